"""What verifying the backup chain finds: one ``Finding`` per fact, judged OK, WARNING,
CRITICAL or UNKNOWN, and the verdict over them all (the worst), shared by ``backup verify``,
``drill restore`` and ``check_el_backup``."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import NamedTuple


class Level(IntEnum):
    """Monitoring Plugins states, their exit codes as values."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class Finding(NamedTuple):
    hop: str
    level: Level
    text: str
    perf: tuple[tuple[str, float], ...] = ()  # (label, value) for a plugin's perfdata

    def line(self) -> str:
        return f"{self.level.name:8} {self.hop}: {self.text}"


def worst(findings: Sequence[Finding]) -> Level:
    """CRITICAL beats UNKNOWN beats WARNING beats OK: a known failure is the news."""
    levels = {f.level for f in findings}
    for level in (Level.CRITICAL, Level.UNKNOWN, Level.WARNING):
        if level in levels:
            return level
    return Level.OK


def summary(findings: Sequence[Finding]) -> str:
    """``CRITICAL - 2 critical, 1 warning, 9 ok over 3 hops``."""
    counts = [
        f"{sum(f.level is level for f in findings)} {level.name.lower()}"
        for level in (Level.CRITICAL, Level.UNKNOWN, Level.WARNING, Level.OK)
        if any(f.level is level for f in findings)
    ]
    hops = len({f.hop for f in findings})
    where = f"{hops} hop{'' if hops == 1 else 's'}"
    return f"{worst(findings).name} - {', '.join(counts) or 'nothing checked'} over {where}"
