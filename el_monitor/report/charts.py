"""The daily report's charts: valid and invalid events per schema, and per day over the window.

A chart that cannot be drawn is left out with a note (:func:`make_charts`) and never stops the
report.  matplotlib is reached through ``el_monitor.mail.figures`` and only imported when drawing.

Charts span the page: 1,240 px wide (a 1,280 px window less the page's margins) at 100 dpi,
every label at least ``LABEL_PT`` points, 12.5 px at that size; the HTML lets them shrink on
narrower screens.  Each chart records the smallest text it drew (``Chart.text_px``), so the
browser test can check what a reader sees.  They are cheap: margins are set by hand rather
than by the constrained-layout engine, and the trend uses plain positions with a few day labels
rather than date locators, because with ``--owners`` one report draws two charts per owner and
layout solving was most of their cost.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from el_monitor.mail import figures
from el_monitor.report.model import Chart, ReportData

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["CHART_ROWS", "LABEL_PT", "Drawn", "make_charts", "trend_chart", "volume_chart"]

DPI = 100
WIDTH_IN = 12.4  # 1,240 px: the page's width at 1,280 px less its 16 px margins
LABEL_PT = 9.0  # the smallest text drawn: 12.5 px at DPI
VALID_COLOUR = "#3366cc"
INVALID_COLOUR = "#dc3912"
CHART_ROWS = 25  # schemas drawn in the volume chart; the rest are summed as "others"


def make_charts(report: ReportData) -> tuple[Chart, ...]:
    """The volume-by-schema and 30-day trend charts; a failed one carries its error instead."""
    rows = [(s.label, s.figures.valid, s.figures.invalid) for s in report.schemas]
    rows = [row for row in rows if row[1] or row[2]]
    if len(rows) > CHART_ROWS:
        rest = rows[CHART_ROWS - 1 :]
        rows = [
            *rows[: CHART_ROWS - 1],
            (f"{len(rest)} others", sum(r[1] for r in rest), sum(r[2] for r in rest)),
        ]
    days = [d for d, ok in zip(report.window, report.recorded, strict=True) if ok]
    series = [t for t, ok in zip(report.trend, report.recorded, strict=True) if ok]
    jobs: list[tuple[str, str, Callable[[], Drawn]]] = [
        (
            "volume",
            f"Valid and invalid events per schema on {report.day}",
            lambda: volume_chart(rows),
        ),
        (
            "trend",
            f"Valid and invalid events per day, {report.window[0]} to {report.day}",
            lambda: trend_chart(days, [t.valid for t in series], [t.invalid for t in series]),
        ),
    ]
    out = []
    for name, title, draw in jobs:
        try:
            drawn = draw()
        except Exception as exc:  # a chart is never worth losing the report for
            out.append(Chart(name, title, None, 0, 0, f"{type(exc).__name__}: {exc}"))
        else:
            out.append(
                Chart(name, title, drawn.data, drawn.width, drawn.height, None, drawn.text_px)
            )
    return tuple(out)


class Drawn(NamedTuple):
    """A drawn chart and the height of the smallest text on it, in its own pixels."""

    data: bytes
    width: int
    height: int
    text_px: float


def _drawn(figure: Figure) -> Drawn:
    """The figure as PNG, with its smallest text measured on the figure itself (after drawing,
    so tick labels, which matplotlib makes at draw time, are counted)."""
    from matplotlib.text import Text

    image = figures.png(figure)
    sizes = [
        float(text.get_fontsize())  # in points once drawn
        for text in figure.findobj(Text)
        if isinstance(text, Text) and text.get_visible() and text.get_text()
    ]
    smallest = min(sizes, default=LABEL_PT) * figure.dpi / 72
    return Drawn(image.data, image.width, image.height, smallest)


def volume_chart(rows: Sequence[tuple[str, int, int]]) -> Drawn:
    """Horizontal bars, valid and invalid side by side per schema, on a log scale.

    Log, because one schema logs millions of events a day where another logs dozens, and an
    owner must still see that their dozen invalid events exist.
    """
    height_in = 1.0 + 0.34 * max(len(rows), 1)
    figure = figures.new_figure(WIDTH_IN, height_in, DPI)
    axes = figure.add_subplot()
    if not rows:
        _empty(axes, "no events on this day")
        return _drawn(figure)
    positions = list(range(len(rows)))
    labels = [figures.plain(name) for name, _, _ in rows]
    # Room for the longest label (about 0.085 in per character at 9 pt), within reason.
    left = min(0.2 + LABEL_PT / 9 * 0.085 * max(len(label) for label in labels), WIDTH_IN * 0.4)
    figure.subplots_adjust(
        left=left / WIDTH_IN,
        right=0.97,
        top=1 - 0.15 / height_in,
        bottom=0.65 / height_in,
    )
    height = 0.4
    axes.barh(
        [p - height / 2 for p in positions],
        [max(valid, 0) for _, valid, _ in rows],
        height=height,
        color=VALID_COLOUR,
        label="valid",
    )
    axes.barh(
        [p + height / 2 for p in positions],
        [max(invalid, 0) for _, _, invalid in rows],
        height=height,
        color=INVALID_COLOUR,
        label="invalid",
    )
    axes.set_yticks(positions, labels, fontsize=LABEL_PT)
    axes.invert_yaxis()  # the first row (most invalid) on top, as in the table
    largest = max(max(valid, invalid) for _, valid, invalid in rows)
    from matplotlib.ticker import EngFormatter, LogLocator, NullLocator

    axes.set_xscale("log")
    axes.set_xlim(0.8, max(largest, 1) * 1.5)
    axes.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
    axes.xaxis.set_minor_locator(NullLocator())
    # 1, 10, 100, 1k: the default 10^n labels go through mathtext, the chart's slowest part.
    axes.xaxis.set_major_formatter(EngFormatter(sep=""))
    axes.tick_params(axis="x", labelsize=LABEL_PT)
    axes.set_xlabel("events (log scale)", fontsize=LABEL_PT)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(fontsize=LABEL_PT, loc="lower right")
    return _drawn(figure)


def trend_chart(
    days: Sequence[datetime.date], valid: Sequence[int], invalid: Sequence[int]
) -> Drawn:
    """Valid (top) and invalid (bottom) events per day: two panels, so invalid is readable.

    Days are drawn at their offset from the first, so a day without counts is a visible gap.
    """
    figure = figures.new_figure(WIDTH_IN, 3.6, DPI)
    figure.subplots_adjust(left=0.06, right=0.985, top=0.96, bottom=0.1, hspace=0.12)
    top, bottom = figure.subplots(2, 1, sharex=True)
    if not days:
        _empty(top, "no counts recorded")
        bottom.set_axis_off()
        return _drawn(figure)
    from matplotlib.ticker import EngFormatter, NullLocator

    first = days[0]
    positions = [(day - first).days for day in days]
    span = positions[-1] + 1
    top.bar(positions, valid, color=VALID_COLOUR, width=0.8)
    bottom.bar(positions, invalid, color=INVALID_COLOUR, width=0.8)
    top.set_ylabel("valid", fontsize=LABEL_PT)
    bottom.set_ylabel("invalid", fontsize=LABEL_PT)
    step = max(1, round(span / 15))
    ticks = list(range(span - 1, -1, -step))[::-1]  # the last day always labelled
    bottom.set_xticks(
        ticks, [(first + datetime.timedelta(days=t)).strftime("%m-%d") for t in ticks]
    )
    bottom.set_xlim(-0.6, span - 0.4)
    for axes in (top, bottom):
        axes.yaxis.set_major_formatter(EngFormatter(sep=""))
        axes.yaxis.set_minor_locator(NullLocator())
        axes.tick_params(labelsize=LABEL_PT)
        axes.grid(axis="y", alpha=0.3)
        axes.set_ylim(bottom=0)
    return _drawn(figure)


def _empty(axes: Axes, text: str) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", fontsize=LABEL_PT + 2)
