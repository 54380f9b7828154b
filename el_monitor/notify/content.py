"""An alert's content as structured sections: what one mail says, built once.

Following nagios-herald: ``wording`` decides what to say (an ``AlertContent``); the text and
HTML templates (``render``) only say it, so both renderings always carry the same facts.
Text from monitored data arrives here bounded and scrubbed; the HTML template escapes it all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["AlertContent", "GraphSection", "Link", "SchemaLine"]


@dataclass(frozen=True)
class Link:
    """A labelled URL in the mail's Links section."""

    label: str
    url: str


@dataclass(frozen=True)
class SchemaLine:
    """One schema in a mail: who owns it, what it measured, where to look."""

    name: str
    owners: tuple[str, ...]
    measured: str
    limit: str
    graph: str | None
    runbook: str | None


@dataclass(frozen=True)
class GraphSection:
    """The picture, or why there is none; ``cid`` is what the HTML's ``<img>`` refers to."""

    title: str
    cid: str | None = None
    png: bytes | None = field(default=None, repr=False)
    note: str | None = None
    link: str | None = None

    def inline(self, cid: str) -> GraphSection:
        """This section with its picture referred to as ``cid:<cid>`` from the HTML."""
        return replace(self, cid=cid)


@dataclass(frozen=True)
class AlertContent:
    """Everything one mail says, built once, rendered as text and as HTML."""

    kind: str
    subject: str
    headline: str
    colour: str
    summary: str
    host: str
    service: str
    state: str
    when: str
    schemas: tuple[SchemaLine, ...]
    graph: GraphSection
    actions: tuple[str, ...]
    links: tuple[Link, ...]
    measurements: tuple[tuple[str, str], ...]
    recipients: tuple[str, ...]
    why: str
    notes: tuple[str, ...] = ()
