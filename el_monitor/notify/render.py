"""An alert's content as one mail: ``alert.txt.j2`` and ``alert.html.j2`` (autoescaped) over
the shared Jinja2 environment, the graph inline by ``cid:``."""

from __future__ import annotations

from email.message import EmailMessage

from el_monitor.mail.message import build_message
from el_monitor.mail.templates import environment
from el_monitor.notify.content import AlertContent

__all__ = ["AlertTemplates", "render_message"]


class AlertTemplates:
    """The alert's two templates, compiled once per run (one notification may mail several
    owner groups)."""

    def __init__(self) -> None:
        env = environment()
        self.text = env.get_template("alert.txt.j2")
        self.html = env.get_template("alert.html.j2")


def render_message(templates: AlertTemplates, content: AlertContent, sender: str) -> EmailMessage:
    """The mail saying ``content`` to its recipients, from ``sender``."""
    text = templates.text.render(alert=content)
    html = templates.html.render(alert=content)
    graph = content.graph
    images = {graph.cid: graph.png} if graph.cid is not None and graph.png is not None else {}
    return build_message(content.subject, sender, content.recipients, text, html, images)
