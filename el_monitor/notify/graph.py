"""Small PNG graphs of event rates for mails (matplotlib, Agg, no pyplot).

matplotlib is imported inside the function: it costs about half a second, and the check
plugins and most commands must never pay for it.  The figure is built with the object API
(``Figure`` + ``FigureCanvasAgg``) rather than pyplot, whose global figure registry is
module-level state that would leak figures between calls in a long-lived process.
"""

from __future__ import annotations

import datetime
import io
import math
from collections.abc import Sequence

from el_monitor.graphite.render import Series

__all__ = ["GraphError", "rate_graph"]

WIDTH, HEIGHT, DPI = 8.0, 3.0, 100  # 800 x 300 pixels: fits a mail column, stays small
MAX_LINES = 8  # more lines than this cannot be told apart; the rest are summed as "others"


class GraphError(Exception):
    """The graph could not be drawn (nothing to draw, or matplotlib failed)."""


def rate_graph(
    series: Sequence[Series],
    threshold: float | None,
    window: tuple[int, int] | None,
    title: str,
    *,
    unit: str = "events/s",
) -> bytes:
    """A PNG: one line per series (its target is the legend label), ``threshold`` as a dashed
    red line, the alert ``window`` (Unix seconds, start and end) shaded, time in UTC.

    Gaps (null points) stay gaps.  Raises :class:`GraphError` when no series has a point.
    """
    drawn = [s for s in series if s.values()]
    if not drawn:
        raise GraphError("no data points to draw")
    try:
        return _draw(drawn, threshold, window, title, unit)
    except GraphError:
        raise
    except Exception as exc:  # matplotlib's errors have no common base; the mail goes anyway
        raise GraphError(f"matplotlib failed: {type(exc).__name__}: {exc}") from exc


def _draw(
    series: Sequence[Series],
    threshold: float | None,
    window: tuple[int, int] | None,
    title: str,
    unit: str,
) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    utc = datetime.UTC
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    ordered = sorted(series, key=lambda s: -max(s.values()))
    shown, rest = ordered[: MAX_LINES - 1], ordered[MAX_LINES - 1 :]
    if len(rest) == 1:
        shown, rest = ordered, []
    lines = [(_plain(s.target), s.points) for s in shown]
    if rest:
        lines.append((f"{len(rest)} others", _summed(rest)))
    first = last = None
    for label, points in lines:
        times = [datetime.datetime.fromtimestamp(stamp, utc) for _, stamp in points]
        values = [math.nan if value is None else value for value, _ in points]
        axes.plot(times, values, linewidth=1.4, label=label)
        if times:
            first = times[0] if first is None else min(first, times[0])
            last = times[-1] if last is None else max(last, times[-1])
    if window is not None:
        start, end = (datetime.datetime.fromtimestamp(t, utc) for t in window)
        axes.axvspan(start, end, color="#d62728", alpha=0.12, linewidth=0, label="alert")
    if threshold is not None and math.isfinite(threshold):
        axes.axhline(
            threshold,
            color="#d62728",
            linestyle="--",
            linewidth=1.2,
            label=f"limit {threshold:g}",
        )
    if first is not None and last is not None and first < last:
        axes.set_xlim(first, last)
    axes.set_ylim(bottom=0)
    locator = mdates.AutoDateLocator(tz=utc, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=utc))
    axes.set_xlabel("UTC", fontsize=8)
    axes.set_ylabel(unit, fontsize=8)
    axes.set_title(_plain(title), fontsize=10, loc="left")
    axes.tick_params(labelsize=8)
    axes.grid(True, linewidth=0.4, alpha=0.5)
    axes.legend(fontsize=7, loc="upper left", framealpha=0.8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _plain(text: str) -> str:
    """Text as matplotlib shows it literally: ``$`` would start mathtext (``$.action``)."""
    return text.replace("$", r"\$")


def _summed(series: Sequence[Series]) -> tuple[tuple[float | None, int], ...]:
    """Point-wise sum by timestamp; null where every series is null."""
    totals: dict[int, float | None] = {}
    for one in series:
        for value, stamp in one.points:
            if value is not None:
                totals[stamp] = (totals.get(stamp) or 0.0) + value
            else:
                totals.setdefault(stamp, None)
    return tuple((totals[stamp], stamp) for stamp in sorted(totals))
