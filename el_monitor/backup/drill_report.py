"""A drill's report: text and HTML from one view of the record and the last drill, and the
mail to ops (the catalog's ``[smtp]``; the report holds URLs without passwords, no events)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from el_monitor.backup.drill_log import Comparison, DrillRecord, PhaseDelta, compare
from el_monitor.mail.message import build_message
from el_monitor.mail.templates import environment


def signed(seconds: float | None) -> str:
    """``+1.25 s`` / ``-0.40 s``; ``-`` when there is nothing to compare with."""
    return "-" if seconds is None else f"{seconds:+.2f} s"


@dataclass(frozen=True)
class DrillView:
    """What the templates show: the record, each phase against the last drill's."""

    record: DrillRecord
    comparison: Comparison

    @property
    def previous(self) -> DrillRecord | None:
        return self.comparison.previous

    @property
    def deltas(self) -> tuple[PhaseDelta, ...]:
        return self.comparison.phases

    @property
    def ok(self) -> dict[str, bool]:
        return {p.name: p.ok for p in self.record.phases}

    @property
    def detail(self) -> dict[str, str]:
        return {p.name: p.detail for p in self.record.phases}


class DrillReport:
    """Renders a drill; build once per run (compiling templates costs more than rendering)."""

    def __init__(self, record: DrillRecord, previous: DrillRecord | None) -> None:
        self.view = DrillView(record, compare(record, previous))
        self.env = environment(filters={"delta": signed})

    def text(self) -> str:
        return self.env.get_template("drill.txt.j2").render(drill=self.view)

    def html(self) -> str:
        return self.env.get_template("drill.html.j2").render(drill=self.view)

    @property
    def subject(self) -> str:
        r = self.view.record
        figures = f", RTO {r.rto_seconds:.1f} s, RPO {r.rpo_events} events" if r.passed else ""
        return f"Failover drill {r.outcome.upper()}: {r.primary} -> {r.replica}{figures}"

    def message(self, sender: str, recipients: Sequence[str]) -> EmailMessage:
        return build_message(self.subject, sender, list(recipients), self.text(), self.html())
