"""Nagios performance data, as the check plugins write it: labels, values, ranges.

Parsing is tolerant on purpose: perfdata comes from plugin output, and a notification must go
out even when part of it does not parse.  Ranges are read by ``nagiosplugin.Range``
(``[@][start:][end]``, plain decimals); one it refuses (an exponent, a start past the end) is
treated as absent.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from nagiosplugin import Range


@dataclass(frozen=True)
class Perf:
    """One perfdata value: ``label=value[uom];warn;crit;min;max``."""

    label: str
    value: float | None
    uom: str = ""
    warn: str = ""
    crit: str = ""

    def limit(self) -> float | None:
        """The critical (else warning) threshold as one number to draw: the upper end of a
        ``0..N`` range, the floor of ``N:``; None for none or an inside (``@``) range."""
        for text in (self.crit, self.warn):
            found = _range(text)
            if found is not None:
                if found.invert:
                    return None
                for bound in (found.end, found.start):
                    if math.isfinite(bound):
                        return float(bound)
                return None
        return None

    def crossed(self) -> bool:
        """Whether the value is outside its warning or critical range."""
        if self.value is None:
            return False
        for text in (self.crit, self.warn):
            found = _range(text)
            if found is not None and not found.match(self.value):
                return True
        return False

    def shown(self, unit: str = "") -> str:
        """``243.1/s (warning 150, critical 200)`` for a mail; ``unit`` when it has no uom."""
        value = (
            "unknown" if self.value is None else f"{format_number(self.value)}{self.uom or unit}"
        )
        limits = [
            f"{name} {text}"
            for name, text in (("warning", self.warn), ("critical", self.crit))
            if text
        ]
        return value + (f" ({', '.join(limits)})" if limits else "")


def format_number(value: float) -> str:
    """A plain decimal as the plugins write them: no exponent, no trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_PERF = re.compile(r"""\s*(?:'((?:[^']|'')+)'|([^\s=']+))=(\S*)""")
_VALUE = re.compile(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(\S*)")


def parse_perfdata(text: str) -> list[Perf]:
    """Nagios perfdata, tolerant: what does not parse is skipped, never an error."""
    out: list[Perf] = []
    pos, text = 0, text or ""
    while pos < len(text):
        found = _PERF.match(text, pos)
        if not found:
            nxt = text.find(" ", pos + 1)
            if nxt < 0:
                break
            pos = nxt
            continue
        pos = found.end()
        label = found[1].replace("''", "'") if found[1] is not None else found[2]
        fields = found[3].split(";")
        parsed = _VALUE.fullmatch(fields[0])
        value = float(parsed[1]) if parsed else None
        if value is not None and not math.isfinite(value):
            value = None
        uom = parsed[2] if parsed else ""
        warn = fields[1] if len(fields) > 1 else ""
        crit = fields[2] if len(fields) > 2 else ""
        out.append(Perf(label, value, uom, warn, crit))
    return out


def _range(text: str) -> Range | None:
    """A Nagios range; None when empty or malformed (a notification must still go out)."""
    text = text.strip()
    if not text.lstrip("@"):  # nagiosplugin reads a bare "@" as @0:, which no plugin means
        return None
    try:
        return Range(text)
    except ValueError:  # not a number, too many colons, or start past end
        return None
