"""The daily report rendered: text (the mail's text part, stdout), HTML (the mail's HTML part,
charts by ``cid:``), one standalone HTML file (charts as ``data:`` URIs), and the mail itself.

``report.txt.j2`` and ``report.html.j2`` (autoescaped) render the same ``ReportData`` over the
shared Jinja2 environment, with the number filters below.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from types import MappingProxyType

from el_monitor.event.names import SCHEMA_NAME
from el_monitor.mail.message import build_message, new_cid
from el_monitor.mail.templates import environment
from el_monitor.report.charts import make_charts
from el_monitor.report.model import NONE_SHOWN, Chart, Figures, ReportData, percent
from el_monitor.store.counts import NO_SCHEMA

__all__ = [
    "Templates",
    "anchor",
    "render_html",
    "render_text",
    "report_message",
    "standalone_html",
]


def _count(value: int | None) -> str:
    """``12,345``."""
    return NONE_SHOWN if value is None else f"{value:,}"


def _average(value: float | None) -> str:
    """A mean of counts: whole above 10, one decimal below (``2.5``)."""
    if value is None:
        return NONE_SHOWN
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:,.1f}"


def _change_text(figures: Figures, measure: str) -> str:
    """``+12.5%``, ``-3.0%``, ``new`` (from zero) or ``–`` (nothing to compare with)."""
    change = figures.valid_change if measure == "valid" else figures.invalid_change
    if change is not None:
        return f"{change:+.1f}%" if abs(change) < 1000 else f"{change / 100 + 1:.0f}×"
    now = figures.valid if measure == "valid" else figures.invalid
    if figures.previous is not None and now:
        return "new"
    return NONE_SHOWN


def anchor(name: str) -> str:
    """The HTML id of a schema's section: ``schema-<name>`` for a well-formed name, else a
    digest (a name read from the database may be anything; ids must stay unique and plain)."""
    if SCHEMA_NAME.fullmatch(name):
        return f"schema-{name}"
    return "schema-x" + hashlib.sha256(name.encode()).hexdigest()[:16]


FILTERS: Mapping[str, Callable[..., str]] = MappingProxyType(
    {
        "count": _count,
        "average": _average,
        "percent": percent,
        "change": _change_text,
        "anchor": anchor,
    }
)


class Templates:
    """The report's two templates, compiled once.

    Compiling costs more than rendering; a run that mails every owner their part renders
    dozens of messages, so the CLI makes one of these and passes it along.
    """

    def __init__(self) -> None:
        env = environment(FILTERS, {"NO_SCHEMA": NO_SCHEMA})
        self.text = env.get_template("report.txt.j2")
        self.html = env.get_template("report.html.j2")


def render_text(
    report: ReportData, charts: Sequence[Chart] = (), templates: Templates | None = None
) -> str:
    """The plain-text rendering (the email's text part, and stdout without --send)."""
    width = max([len(s.label) for s in report.schemas] + [len("schema"), len("total")])
    template = (templates or Templates()).text
    return template.render(report=report, charts=charts, width=min(width, 40))


def render_html(
    report: ReportData,
    charts: Sequence[Chart],
    src: Callable[[Chart], str],
    templates: Templates | None = None,
) -> str:
    """The HTML rendering; ``src`` gives each drawn chart's image URL (``cid:`` or ``data:``)."""
    images = {chart.name: src(chart) for chart in charts if chart.png is not None}
    template = (templates or Templates()).html
    return template.render(report=report, charts=charts, images=images)


def standalone_html(
    report: ReportData, charts: Sequence[Chart] | None = None, templates: Templates | None = None
) -> str:
    """One self-contained HTML file: charts embedded as ``data:`` URIs, so it opens anywhere."""
    if charts is None:
        charts = make_charts(report)
    return render_html(report, charts, _data_uri, templates)


def _data_uri(chart: Chart) -> str:
    assert chart.png is not None
    return "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")


def report_message(
    report: ReportData,
    sender: str,
    recipients: Sequence[str],
    charts: Sequence[Chart] | None = None,
    templates: Templates | None = None,
) -> EmailMessage:
    """The report as one email: text part, and HTML with the charts inline by ``cid:``."""
    if charts is None:
        charts = make_charts(report)
    templates = templates or Templates()
    cids = {chart.name: new_cid(f"report-{chart.name}") for chart in charts}
    html = render_html(report, charts, lambda chart: "cid:" + cids[chart.name], templates)
    text = render_text(report, charts, templates)
    images = {cids[c.name]: c.png for c in charts if c.png is not None}
    return build_message(report.subject, sender, list(recipients), text, html, images)
