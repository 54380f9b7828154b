"""The numbers behind an alert's graph: one render query for every schema mailed, the limit to
draw, and the same query as a link people can open in Graphite.

A Graphite that is not configured, down, slow or empty costs the mail its picture, never the
mail: :func:`fetch` never raises, it says in ``problem`` why there is nothing to draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from el_monitor.catalog.model import Catalog
from el_monitor.graphite import names as metric_names
from el_monitor.graphite.names import OVERALL
from el_monitor.mail.redact import scrub
from el_monitor.notify.notification import SERVICE_LEVEL, Notification
from el_monitor.notify.perfdata import Perf

if TYPE_CHECKING:
    from el_monitor.graphite.render import Series

__all__ = [
    "GRAPH_TIMEOUT",
    "Fetched",
    "fetch",
    "graph_targets",
    "graphite_from",
    "measure_of",
    "render_link",
    "target",
    "threshold",
]

GRAPH_TIMEOUT = 5.0  # seconds for the render query: a slow Graphite must not delay the alert


@dataclass(frozen=True)
class Fetched:
    """The render answer for every schema mailed (one query), or why there is none.

    ``measure`` is the counter graphed (``raw``, ``invalid``, ``inserted``) and ``unit`` its
    axis label; ``overall`` whether the overall rate is drawn beside the schemas'.
    """

    series: Mapping[str, Series]
    threshold: float | None
    measure: str
    unit: str
    overall: bool
    problem: str | None


def measure_of(service: str) -> tuple[str, str]:
    """Which counter to graph for a service, and its unit."""
    lowered = service.lower()
    if "invalid" in lowered:
        return "invalid", "invalid events/s"
    if "inserted" in lowered:
        return "inserted", "inserted events/s"
    return "raw", "events/s"


def target(prefix: str, scope: str, measure: str) -> str:
    """A schema's (or ``overall``) rate summed over forwarders, labelled by its name."""
    summed = metric_names.sum_series(prefix, metric_names.scope_node(scope), measure)
    return metric_names.aliased(summed, scope)


def graph_targets(prefix: str, names: Sequence[str], measure: str, overall: bool) -> list[str]:
    """The targets of one graph: each schema's rate, then the overall rate if it is drawn."""
    targets = [target(prefix, name, measure) for name in names]
    if overall:
        targets.append(target(prefix, OVERALL, measure))
    return targets


def graphite_from(hours: float) -> str:
    """The render API's ``from`` for the last ``hours``: ``-6h``, ``-90min``."""
    minutes = max(1, round(hours * 60))
    return f"-{minutes // 60}h" if minutes % 60 == 0 else f"-{minutes}min"


def render_link(base: str | None, targets: Sequence[str], hours: float) -> str | None:
    """The graph as a Graphite URL people can open; None without a base or a target."""
    if not base or not targets:
        return None
    query = [("target", t) for t in targets]
    query += [("from", graphite_from(hours)), ("width", "800"), ("height", "300")]
    return f"{base}/render?{urlencode(query)}"


def fetch(
    notification: Notification, schemas: Sequence[str], perf: Sequence[Perf], catalog: Catalog
) -> Fetched:
    """One render query: each schema's summed rate, plus the overall rate when the check judged
    the whole (its perfdata has a generic ``rate``) or no schema is named."""
    alerts = catalog.alerts
    measure, unit = measure_of(notification.service)
    names = [s for s in dict.fromkeys(schemas) if s != SERVICE_LEVEL]
    by_label = {p.label: p for p in perf}
    rate = by_label.get("rate")
    overall = not names or (rate is not None and rate.limit() is not None)
    limit = threshold(names, by_label, catalog, measure, overall)

    def without(problem: str) -> Fetched:
        return Fetched({}, limit, measure, unit, overall, problem)

    if not alerts.graphite_url:
        return without("no Graphite is configured ([alerts] graphite_url or --graphite)")
    from el_monitor.graphite.render import RenderClient, RenderError

    targets = graph_targets(alerts.graphite_prefix, names, measure, overall)
    try:
        with RenderClient(alerts.graphite_url, timeout=GRAPH_TIMEOUT) as client:
            series = client.render(targets, from_=graphite_from(alerts.graph_hours), until="now")
    except RenderError as exc:
        return without(scrub(f"Graphite did not answer the graph query ({exc.problem})"))
    except ValueError as exc:  # a malformed URL given by flag
        return without(scrub(str(exc)))
    found = {s.target: s for s in series}
    problem = None if any(s.values() for s in series) else "Graphite has no data for it"
    return Fetched(found, limit, measure, unit, overall, problem)


def threshold(
    names: Sequence[str],
    by_label: Mapping[str, Perf],
    catalog: Catalog,
    measure: str,
    overall: bool,
) -> float | None:
    """The line to draw: the overall ``rate`` limit when the whole is graphed, else the lowest
    of the schemas' own limits from their perfdata, else (rates) the catalog's ``max_rate``.
    A limit in % (an invalid share) is not drawn on a graph of events/s."""
    rate = by_label.get("rate")
    if overall and rate is not None and rate.uom != "%":
        return rate.limit()
    limits = [
        limit
        for name in names
        if (p := by_label.get(name)) is not None
        and p.uom != "%"
        and (limit := p.limit()) is not None
    ]
    if limits:
        return min(limits)
    if measure == "raw" and names:
        return min(catalog.policy(name).max_rate for name in names)
    return None
