"""What a backfill did, line by line: every line read lands in exactly one count.

read = unreadable + out_of_window + opted_out + past_retention + already_present + inserted
+ refused.  ``already_present`` holds every capsule whose uuid the table had (from before, or
from earlier in the logs: an event logged twice is inserted once); ``differing`` says how many
of them hold other content than the stored row (another event reusing a uuid; reported, never
stored).  In a dry run ``inserted`` is what would be.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

MAX_LISTED = 100  # unreadable lines named one by one; the count is exact regardless

COUNTED = (
    "unreadable",
    "out_of_window",
    "opted_out",
    "past_retention",
    "already_present",
    "inserted",
    "refused",
)


@dataclass
class BackfillCounts:
    read: int = 0
    unreadable: int = 0
    out_of_window: int = 0
    opted_out: int = 0
    past_retention: int = 0
    already_present: int = 0
    inserted: int = 0
    refused: int = 0
    differing: int = 0  # of already_present
    unreadable_lines: list[str] = field(default_factory=list)  # "file:line: why"
    refusals: Counter[str] = field(default_factory=Counter)  # "schema/revision: why" → rows

    def count(self, name: str, amount: int = 1) -> None:
        setattr(self, name, getattr(self, name) + amount)

    def unreadable_line(self, where: str, problem: str) -> None:
        self.unreadable += 1
        if len(self.unreadable_lines) < MAX_LISTED:
            self.unreadable_lines.append(f"{where}: {problem}")

    def balanced(self) -> bool:
        return self.read == sum(getattr(self, name) for name in COUNTED)

    def record(self) -> dict[str, Any]:
        """The counts as JSON can hold them (a checkpoint's)."""
        record = dict(vars(self))
        record["unreadable_lines"] = list(self.unreadable_lines)
        record["refusals"] = dict(self.refusals)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> BackfillCounts:
        """Counts as ``record`` gave them; ValueError if odd."""
        names = {f.name for f in fields(cls)}
        if not isinstance(record, dict) or set(record) - names:
            raise ValueError("unexpected keys in the saved counts")
        counts = cls(**record)
        counts.refusals = Counter(counts.refusals)
        return counts
