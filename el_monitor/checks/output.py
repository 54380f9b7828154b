"""Presentation: numbers, perfdata, ranges and the status line, as the guidelines write them.

One status line naming what caused the state, perfdata in plain decimals (never an exponent)
with ``U`` where unknown, detail lines after it with ``-v``.  The helpers that pick results out
of ``nagiosplugin.Results`` serve the plugins' ``Summary`` classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import nagiosplugin
from nagiosplugin import Ok, Range, Unknown
from nagiosplugin.state import ServiceState


def num(value: float) -> str:
    """A number for a status line: ``243.1``, ``12``, ``0.004``; never an exponent."""
    text = f"{value:.1f}" if abs(value) >= 1 or value == 0 else f"{value:.3f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def perf_num(value: float | None) -> str:
    """A perfdata number: plain decimal (no exponent, at most 6 places), ``U`` when unknown."""
    if value is None or not math.isfinite(value):
        return "U"
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def range_text(rng: Range | None) -> str:
    """A range as the guidelines write it, in plain decimals; ``''`` for none."""
    if rng is None:
        return ""
    out = "@" if rng.invert else ""
    if rng.start == -math.inf:
        out += "~:"
    elif rng.start != 0 or rng.end == math.inf:
        out += f"{perf_num(rng.start)}:"
    if rng.end != math.inf:
        out += perf_num(rng.end)
    return out


def performance(
    label: str,
    value: float | None,
    uom: str | None = None,
    warning: Range | None = None,
    critical: Range | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> nagiosplugin.Performance:
    """nagiosplugin's Performance (which quotes odd labels) with our number formatting."""
    return nagiosplugin.Performance(
        label,
        perf_num(value),
        uom or "",
        range_text(warning),
        range_text(critical),
        "" if minimum is None else perf_num(minimum),
        "" if maximum is None else perf_num(maximum),
    )


def by_context(results: nagiosplugin.Results, context: str) -> list[nagiosplugin.Result]:
    """The results of one context, worst state first (names may clash: a schema "rate")."""
    return [r for r in results if r.metric is not None and r.metric.context == context]


def worst(results: nagiosplugin.Results, context: str) -> nagiosplugin.Result | None:
    """The worst result of one context (the only one, for most), if it has any."""
    found = by_context(results, context)
    return found[0] if found else None


def problems(results: nagiosplugin.Results, context: str) -> list[nagiosplugin.Result]:
    """The non-OK results of one context, worst state first."""
    return [r for r in by_context(results, context) if r.state != Ok]


def unknown_text(results: nagiosplugin.Results) -> str | None:
    """The message of an UNKNOWN result (a ``CheckError`` raised by a probe), if any."""
    unknowns = results.by_state.get(Unknown)
    return "; ".join(str(r.hint) for r in unknowns) if unknowns else None


def listing(items: Sequence[str], limit: int = 3) -> str:
    """The first ``limit`` items, and how many more."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def one_line(text: str) -> str:
    """One line without the ``|`` that would start perfdata."""
    return " ".join(str(text).replace("|", "/").split())


def plugin_output(
    name: str,
    state: ServiceState,
    summary: str,
    perfdata: Sequence[str] = (),
    details: Sequence[str] = (),
) -> str:
    """``NAME STATE - summary | perfdata``, then the detail lines: what Icinga reads."""
    line = f"{name} {str(state).upper()} - {one_line(summary)}"
    if perfdata:
        line += " | " + " ".join(perfdata)
    return "\n".join([line, *(one_line(d) for d in details if d)]) + "\n"
