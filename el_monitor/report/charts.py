"""The daily report's charts, drawn with matplotlib's Agg renderer straight to PNG bytes.

matplotlib costs a few hundred milliseconds to import, so only the report and the alert
graphs import this module, and only when they draw.  Figures are built with the object API
(``Figure`` + ``FigureCanvasAgg``), never ``pyplot``: pyplot keeps a process-wide registry of
open figures, which a long-running caller would leak and threads would share.

Charts are small (about 560 px wide at 80 dpi): they travel inline in every email.  They are
also cheap: margins are set by hand rather than by the constrained-layout engine, and the trend
uses plain positions with a few day labels rather than date locators, because with ``--owners``
one report draws two charts per owner and layout solving was most of their cost.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Png", "trend_chart", "volume_chart"]

DPI = 80
WIDTH_IN = 7.0
VALID_COLOUR = "#3366cc"
INVALID_COLOUR = "#dc3912"


class Png(NamedTuple):
    data: bytes
    width: int  # pixels
    height: int


def volume_chart(rows: Sequence[tuple[str, int, int]]) -> Png:
    """Horizontal bars, valid and invalid side by side per schema, on a log scale.

    Log, because one schema logs millions of events a day where another logs dozens, and an
    owner must still see that their dozen invalid events exist.
    """
    height_in = 0.9 + 0.3 * max(len(rows), 1)
    figure = _figure(WIDTH_IN, height_in)
    axes = figure.add_subplot()
    if not rows:
        _empty(axes, "no events on this day")
        return _png(figure)
    positions = list(range(len(rows)))
    labels = [_plain(name) for name, _, _ in rows]
    # Room for the longest label at 8 pt (about 0.075 in per character), within reason.
    left = min(0.15 + 0.075 * max(len(label) for label in labels), WIDTH_IN * 0.45)
    figure.subplots_adjust(
        left=left / WIDTH_IN,
        right=0.97,
        top=1 - 0.15 / height_in,
        bottom=0.6 / height_in,
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
    axes.set_yticks(positions, labels, fontsize=8)
    axes.invert_yaxis()  # the first row (most invalid) on top, as in the table
    largest = max(max(valid, invalid) for _, valid, invalid in rows)
    from matplotlib.ticker import EngFormatter, LogLocator, NullLocator

    axes.set_xscale("log")
    axes.set_xlim(0.8, max(largest, 1) * 1.5)
    axes.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
    axes.xaxis.set_minor_locator(NullLocator())
    # 1, 10, 100, 1k: the default 10^n labels go through mathtext, the chart's slowest part.
    axes.xaxis.set_major_formatter(EngFormatter(sep=""))
    axes.tick_params(axis="x", labelsize=8)
    axes.set_xlabel("events (log scale)", fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    return _png(figure)


def trend_chart(days: Sequence[datetime.date], valid: Sequence[int], invalid: Sequence[int]) -> Png:
    """Valid (top) and invalid (bottom) events per day: two panels, so invalid is readable.

    Days are drawn at their offset from the first, so a day without counts is a visible gap.
    """
    figure = _figure(WIDTH_IN, 3.4)
    figure.subplots_adjust(left=0.1, right=0.97, top=0.96, bottom=0.1, hspace=0.12)
    top, bottom = figure.subplots(2, 1, sharex=True)
    if not days:
        _empty(top, "no counts recorded")
        bottom.set_axis_off()
        return _png(figure)
    from matplotlib.ticker import EngFormatter, NullLocator

    first = days[0]
    positions = [(day - first).days for day in days]
    span = positions[-1] + 1
    top.bar(positions, valid, color=VALID_COLOUR, width=0.8)
    bottom.bar(positions, invalid, color=INVALID_COLOUR, width=0.8)
    top.set_ylabel("valid", fontsize=8)
    bottom.set_ylabel("invalid", fontsize=8)
    step = max(1, round(span / 8))
    ticks = list(range(span - 1, -1, -step))[::-1]  # the last day always labelled
    bottom.set_xticks(
        ticks, [(first + datetime.timedelta(days=t)).strftime("%m-%d") for t in ticks]
    )
    bottom.set_xlim(-0.6, span - 0.4)
    for axes in (top, bottom):
        axes.yaxis.set_major_formatter(EngFormatter(sep=""))
        axes.yaxis.set_minor_locator(NullLocator())
        axes.tick_params(labelsize=8)
        axes.grid(axis="y", alpha=0.3)
        axes.set_ylim(bottom=0)
    return _png(figure)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _empty(axes: Axes, text: str) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)


def _png(figure: Figure) -> Png:
    buffer = io.BytesIO()
    # No Software/timestamp metadata: smaller, and the same data draws the same bytes.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    width, height = figure.canvas.get_width_height()
    return Png(buffer.getvalue(), width, height)


def _plain(label: str) -> str:
    """A label matplotlib draws as written: ``$`` would start mathtext."""
    return label.replace("$", r"\$")
