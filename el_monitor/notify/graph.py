"""An alert's picture: a small PNG of the event rates around the alert, or why there is none.

As in nagios-herald, the graph is an ornament: nothing to draw, or a matplotlib that fails,
costs the mail its picture and adds a line saying so with the link, never the mail itself.
matplotlib is reached through ``el_monitor.mail.figures`` and only imported when drawing.
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from el_monitor.mail import figures
from el_monitor.mail.redact import safe_text
from el_monitor.notify.content import GraphSection
from el_monitor.notify.fetch import Fetched

if TYPE_CHECKING:
    from el_monitor.graphite.render import Series

__all__ = ["GraphError", "graph_section", "rate_graph"]

log = logging.getLogger(__name__)

WIDTH, HEIGHT, DPI = 8.0, 3.0, 100  # 800 x 300 pixels: fits a mail column, stays small
MAX_LINES = 8  # more lines than this cannot be told apart; the rest are summed as "others"
MIN_WINDOW = 600  # an alert window shorter than this is drawn as the last 10 minutes
ALERT_RED = "#d62728"

Points = tuple[tuple[float | None, int], ...]  # (value, Unix seconds), as in a render answer


class GraphError(Exception):
    """The graph could not be drawn (nothing to draw, or matplotlib failed)."""


def graph_section(
    service: str,
    names: Sequence[str],
    fetched: Fetched,
    since: float,
    now: float,
    link: str | None,
) -> GraphSection:
    """The graph of ``names`` (and the overall rate, if fetched) with the alert window from
    ``since`` shaded, or a note saying why there is none.  Never raises."""
    title = safe_text(f"{service}: {fetched.unit}", 120)
    if fetched.problem:
        return GraphSection(title, note=f"No graph: {fetched.problem}.", link=link)
    wanted = [*names, *(["overall"] if fetched.overall else [])]
    series = [fetched.series[n] for n in wanted if n in fetched.series]
    window = (int(min(since, now - MIN_WINDOW)), int(now))
    try:
        png = rate_graph(series, fetched.threshold, window, title, unit=fetched.unit)
    except GraphError as exc:
        return GraphSection(title, note=f"No graph: {safe_text(str(exc), 200)}.", link=link)
    except Exception as exc:  # a graph must never stop an alert
        log.warning("graph failed", exc_info=True)
        return GraphSection(
            title, note=f"No graph: {type(exc).__name__} while drawing it.", link=link
        )
    return GraphSection(title, png=png.data, link=link)


def rate_graph(
    series: Sequence[Series],
    threshold: float | None,
    window: tuple[int, int] | None,
    title: str,
    *,
    unit: str = "events/s",
) -> figures.Png:
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
) -> figures.Png:
    import matplotlib.dates as mdates

    utc = datetime.UTC

    def dates(stamps: Sequence[float]) -> list[float]:
        """Unix seconds as matplotlib's date numbers (the axis is told it shows dates), in one
        conversion: one call per point costs tenths of a second on a day of 10 s points."""
        moments = [datetime.datetime.fromtimestamp(stamp, utc) for stamp in stamps]
        return [float(number) for number in mdates.date2num(moments)]

    figure = figures.new_figure(WIDTH, HEIGHT, DPI)
    axes = figure.add_subplot()
    axes.xaxis_date(utc)
    first = last = None
    for label, points in _lines(series):
        times = dates([stamp for _, stamp in points])
        values = [math.nan if value is None else value for value, _ in points]
        axes.plot(times, values, linewidth=1.4, label=label)
        if times:
            first = times[0] if first is None else min(first, times[0])
            last = times[-1] if last is None else max(last, times[-1])
    if window is not None:
        start, end = dates(window)
        axes.axvspan(start, end, color=ALERT_RED, alpha=0.12, linewidth=0, label="alert")
    if threshold is not None and math.isfinite(threshold):
        axes.axhline(
            threshold, color=ALERT_RED, linestyle="--", linewidth=1.2, label=f"limit {threshold:g}"
        )
    if first is not None and last is not None and first < last:
        axes.set_xlim(first, last)
    axes.set_ylim(bottom=0)
    locator = mdates.AutoDateLocator(tz=utc, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=utc))
    axes.set_xlabel("UTC", fontsize=8)
    axes.set_ylabel(unit, fontsize=8)
    axes.set_title(figures.plain(title), fontsize=10, loc="left")
    axes.tick_params(labelsize=8)
    axes.grid(True, linewidth=0.4, alpha=0.5)
    axes.legend(fontsize=7, loc="upper left", framealpha=0.8)
    figure.tight_layout()
    return figures.png(figure)


def _lines(series: Sequence[Series]) -> list[tuple[str, Points]]:
    """Legend label and points per line, busiest first; past ``MAX_LINES`` the quietest are
    summed into one ``N others`` line."""
    ordered = sorted(series, key=lambda s: -max(s.values()))
    shown, rest = ordered[: MAX_LINES - 1], ordered[MAX_LINES - 1 :]
    if len(rest) == 1:
        shown, rest = ordered, []
    lines = [(figures.plain(s.target), s.points) for s in shown]
    if rest:
        lines.append((f"{len(rest)} others", _summed(rest)))
    return lines


def _summed(series: Sequence[Series]) -> Points:
    """Point-wise sum by timestamp; null where every series is null."""
    totals: dict[int, float | None] = {}
    for one in series:
        for value, stamp in one.points:
            if value is not None:
                totals[stamp] = (totals.get(stamp) or 0.0) + value
            else:
                totals.setdefault(stamp, None)
    return tuple((totals[stamp], stamp) for stamp in sorted(totals))
