"""An alert's content, built once as structured sections, and its rendering per channel.

Following nagios-herald: the notifier decides what to say (``AlertContent``); the text and
HTML templates only say it, so both renderings always carry the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

    from el_monitor.catalog.model import Catalog


@dataclass(frozen=True)
class Link:
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


# What to do, by the service's kind; the first matching keyword wins.
ACTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "invalid",
        (
            "Open the invalid events log (or the daily report) for the schema: the most common "
            "error names the JSON path that fails validation.",
            "Fix the producer, or publish a new schema revision if the data is right and the "
            "schema is not. Invalid events are not stored.",
        ),
    ),
    (
        "inserted",
        (
            "Check that the forwarder is running and can reach the database (its log names the "
            "error; spooled batches are retried).",
            "Look for locks, a full disk or replication lag on the database server.",
        ),
    ),
    (
        "silence",
        (
            "Check that every forwarder is running and can reach carbon (el-monitor forward "
            "--graphite); a canary schema at zero can mean its producer stopped sending.",
        ),
    ),
    (
        "rate",
        (
            "Find what changed: a deploy, a new client or a bot multiplying the events (the "
            "graph shows when it started).",
            "If the volume is expected, raise the schema's max_rate in the catalog, or sample it "
            "(sample_rate, keep 1 in N); otherwise ask the producer to stop the burst.",
        ),
    ),
)
DEFAULT_ACTIONS = ("Look at the graph and the status line, then at the forwarder's logs.",)


def template_environment() -> jinja2.Environment:
    """Jinja2 over the package's templates; HTML autoescaped, text not (it is not markup)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("el_monitor", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_message(
    env: jinja2.Environment, content: AlertContent, catalog: Catalog
) -> EmailMessage:
    from el_monitor.mail import smtp as mail

    text = env.get_template("alert.txt.j2").render(alert=content)
    html = env.get_template("alert.html.j2").render(alert=content)
    images = {content.graph.cid: content.graph.png} if content.graph.cid else {}
    assert all(isinstance(png, bytes) for png in images.values())
    return mail.build_message(
        content.subject,
        catalog.smtp.sender(),
        content.recipients,
        text,
        html,
        images,  # type: ignore[arg-type]
    )


def describe(message: EmailMessage) -> str:
    """A message as ``--dry-run`` prints it: headers, the text part, the other parts listed."""
    lines = [f"{name}: {message[name]}" for name in ("From", "To", "Subject")]
    lines.append("")
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            lines.append(part.get_content().rstrip("\n"))
        else:
            cid = part.get("Content-ID")
            size = len(part.get_payload(decode=True) or b"")
            lines.append(f"[{kind} part, {size} bytes" + (f", Content-ID {cid}]" if cid else "]"))
    return "\n".join(lines)
