"""What an alert mail says: the content of one mail built from the decision and the facts.

Everything a reader sees is decided here once, as an ``AlertContent`` (headline, why they get
it, what to do, links, subject), and the two templates only lay it out.  Text that comes from
the monitored system (host, service, status line, perfdata) passes ``safe_text`` (bounded,
scrubbed) first; links and addresses come from the configuration, which is trusted.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote

from el_monitor.catalog.model import Catalog
from el_monitor.mail.message import new_cid
from el_monitor.mail.redact import safe_text
from el_monitor.notify.advice import actions
from el_monitor.notify.content import AlertContent, Link, SchemaLine
from el_monitor.notify.fetch import Fetched, graph_targets, render_link, target
from el_monitor.notify.graph import graph_section
from el_monitor.notify.notification import (
    ACKNOWLEDGEMENT,
    FLAPPING,
    PROBLEM,
    RECOVERY,
    SERVICE_LEVEL,
    Notification,
)
from el_monitor.notify.perfdata import Perf
from el_monitor.notify.routing import Group
from el_monitor.notify.state import Decision

__all__ = ["AlertFacts", "alert_content", "duration", "runbook", "subject"]

SUBJECT_SCHEMAS = 4  # schema names in a subject before "+N more"
MEASUREMENTS = 12  # perfdata values shown in a mail
STATE_COLOURS: Mapping[str, str] = MappingProxyType(
    {
        "CRITICAL": "#c62828",
        "WARNING": "#ef6c00",
        "UNKNOWN": "#6a1b9a",
        "OK": "#2e7d32",
        ACKNOWLEDGEMENT: "#1565c0",
        FLAPPING: "#ef6c00",
    }
)
NEUTRAL_COLOUR = "#455a64"


@dataclass(frozen=True)
class AlertFacts:
    """What is known of one notification before it is split into mails: the notification, the
    kind of mail (``FLAPPING`` for a flapping summary, else its type), the decision, its
    perfdata, the render answer, the time, and notes for every mail."""

    notification: Notification
    kind: str
    decision: Decision
    perf: Sequence[Perf]
    fetched: Fetched
    now: float
    notes: Sequence[str] = ()


def alert_content(facts: AlertFacts, group: Group, catalog: Catalog) -> AlertContent:
    """Everything the mail to ``group`` says."""
    notification, kind, decision = facts.notification, facts.kind, facts.decision
    alerts = catalog.alerts
    host = safe_text(notification.host, 100)
    service = safe_text(notification.service, 100)
    state = notification.state
    names = [s for s in group.schemas if s != SERVICE_LEVEL]
    lines = _schema_lines(facts, names, catalog)
    fetched = facts.fetched
    targets = graph_targets(alerts.graphite_prefix, names, fetched.measure, fetched.overall)
    link = render_link(alerts.link_base, targets, alerts.graph_hours)
    graph = graph_section(notification.service, names, fetched, decision.since, facts.now, link)
    when = notification.time if notification.time is not None else facts.now
    return AlertContent(
        kind=kind,
        subject=safe_text(subject(kind, state, service, host, names), 300),
        headline=_headline(facts, service, host, catalog),
        colour=STATE_COLOURS.get(kind) or STATE_COLOURS.get(state, NEUTRAL_COLOUR),
        summary=safe_text(notification.output.split("|", 1)[0], 1000),
        host=host,
        service=service,
        state=state,
        when=_utc(when),
        schemas=lines,
        graph=graph if graph.png is None else graph.inline(new_cid("graph")),
        actions=actions(kind, notification.service),
        links=_links(notification, service, names, lines, catalog),
        measurements=_measurements(facts, names),
        recipients=group.recipients,
        why=_why(kind, names, group, catalog),
        notes=_notes(facts),
    )


def _unit(fetched: Fetched) -> str:
    """The unit of a bare perfdata value: the rate plugins' perfdata has no uom."""
    return "/s" if fetched.measure == "raw" else ""


def _schema_lines(
    facts: AlertFacts, names: Sequence[str], catalog: Catalog
) -> tuple[SchemaLine, ...]:
    """Per schema: owners, what it measured against which limit, its own graph and runbook."""
    alerts, fetched, notification = catalog.alerts, facts.fetched, facts.notification
    by_label = {p.label: p for p in facts.perf}
    lines = []
    for name in names:
        measured = by_label.get(name)
        policy = catalog.policy(name)
        own = target(alerts.graphite_prefix, name, fetched.measure)
        lines.append(
            SchemaLine(
                name=name,
                owners=policy.owners,
                measured=safe_text(measured.shown(_unit(fetched)), 120) if measured else "",
                limit=f"max_rate {policy.max_rate:g}/s" if fetched.measure == "raw" else "",
                graph=render_link(alerts.link_base, [own], alerts.graph_hours),
                runbook=runbook(alerts.runbook_url, name, notification.service, notification.host),
            )
        )
    return tuple(lines)


def _links(
    notification: Notification,
    service: str,
    names: Sequence[str],
    lines: Sequence[SchemaLine],
    catalog: Catalog,
) -> tuple[Link, ...]:
    """The service's runbook, else the one schema's; the Graphite link is the graph's own."""
    template = catalog.alerts.runbook_url
    page = runbook(template, None, notification.service, notification.host)
    if page:
        return (Link(f"Runbook for {service}", page),)
    if len(lines) == 1 and lines[0].runbook:
        return (Link(f"Runbook for {names[0]}", lines[0].runbook),)
    return ()


def _measurements(facts: AlertFacts, names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Perfdata as label and value, the mail's schemas first, at most ``MEASUREMENTS``."""
    unit = _unit(facts.fetched)
    perf = facts.perf
    shown = [p for p in perf if p.label in names] + [p for p in perf if p.label not in names]
    return tuple(
        (safe_text(p.label, 63), safe_text(p.shown(unit), 120)) for p in shown[:MEASUREMENTS]
    )


def _headline(facts: AlertFacts, service: str, host: str, catalog: Catalog) -> str:
    kind, decision, state = facts.kind, facts.decision, facts.notification.state
    if kind == FLAPPING:
        return (
            f"{service} is flapping: {decision.flapping} changes in the last "
            f"{duration(catalog.alerts.flap_window)}"
        )
    if decision.settled:
        return f"{service} stopped flapping and is {state} on {host}"
    if kind == RECOVERY:
        return f"{service} has recovered: {state} on {host}"
    if kind == ACKNOWLEDGEMENT:
        return f"{service} ({state} on {host}) was acknowledged"
    return f"{service} is {state} on {host}"


def _notes(facts: AlertFacts) -> tuple[str, ...]:
    decision = facts.decision
    notes = list(facts.notes)
    if facts.notification.time_note:
        notes.append(facts.notification.time_note)
    if decision.settled:
        notes.append("The flapping has stopped; this is where the service ended up.")
    if decision.held:
        notes.append(
            "Not repeated (mailed within the repeat interval): "
            + ", ".join(safe_text(s, 63) for s in decision.held if s != SERVICE_LEVEL)
        )
    return tuple(notes)


def _why(kind: str, names: Sequence[str], group: Group, catalog: Catalog) -> str:
    """Why these recipients get this mail, and how often they may get it again."""
    owned = [n for n in names if n not in group.unowned]
    orphans = [n for n in group.unowned if n != SERVICE_LEVEL]
    reasons = []
    if owned:
        reasons.append(f"You get this as the owners of {', '.join(owned)} in the catalog.")
    if orphans:
        reasons.append(
            f"You get this as ops: no owner is set for {', '.join(orphans)} in the catalog "
            "(add owners = [...] to its [schema.<Name>] table)."
        )
    if not names:
        reasons.append("You get this as ops: the alert names no schema.")
    why = " ".join(reasons)
    repeat = catalog.alerts.repeat_interval
    if kind == PROBLEM and repeat:
        why += f" The same state is mailed again at most every {duration(repeat)}."
    return why


def subject(kind: str, state: str, service: str, host: str, schemas: Sequence[str]) -> str:
    """``[el-monitor] PROBLEM: CRITICAL el-rate — A, B +3 more`` (the host when no schema)."""
    names = [s for s in schemas if s != SERVICE_LEVEL]
    if kind == FLAPPING:
        head = f"[el-monitor] {kind}: {service}"
    else:
        head = f"[el-monitor] {kind}: {state} {service}"
    if not names:
        return f"{head} on {host}"
    shown = ", ".join(names[:SUBJECT_SCHEMAS])
    more = f" +{len(names) - SUBJECT_SCHEMAS} more" if len(names) > SUBJECT_SCHEMAS else ""
    return f"{head} — {shown}{more}"


def runbook(template: str | None, schema: str | None, service: str, host: str) -> str | None:
    """``runbook_url`` with ``{schema}``, ``{service}`` and ``{host}`` filled in, URL-quoted;
    None without a template, or for no schema when the template needs one."""
    if not template:
        return None
    if schema is None and "{schema}" in template:
        return None
    return template.format(
        schema=quote(schema or "", safe=""),
        service=quote(service, safe=""),
        host=quote(host, safe=""),
    )


def duration(seconds: float) -> str:
    """``hour``, ``4 hours``, ``90 minutes``: an interval as the mail says it."""
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} hours"
    minutes = round(seconds / 60)
    return f"{minutes} minutes"


def _utc(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
