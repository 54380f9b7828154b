"""One el-monitor mail as an ``EmailMessage``: text and HTML alternatives, PNGs inline by ``cid:``.

``build_message(subject, sender, recipients, text, html, images)`` makes a
``multipart/alternative``: the text part first, then a ``multipart/related`` holding the HTML and
its inline PNGs.  ``images`` maps a Content-ID (without angle brackets, from :func:`new_cid`) to
PNG bytes; the HTML refers to each as ``<img src="cid:THAT-ID">``.  Clients that show HTML show
the graphs in place; the others show the text part.  Sending is ``el_monitor.mail.smtp``'s job.

Only the standard library is used, so importing this module is cheap.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

__all__ = ["build_message", "describe", "new_cid"]

NO_DOMAIN = "el-monitor.invalid"  # a domain that never resolves: nothing asks DNS for it


def new_cid(name: str = "graph") -> str:
    """A fresh, globally unique Content-ID (no angle brackets) for an inline image.

    The domain is fixed rather than the host's FQDN: ``make_msgid`` would otherwise ask DNS.
    """
    return make_msgid(idstring=name, domain=NO_DOMAIN)[1:-1]


def build_message(
    subject: str,
    sender: str,
    recipients: Sequence[str],
    text: str,
    html: str,
    images: Mapping[str, bytes] | None = None,
) -> EmailMessage:
    """One mail: text and HTML alternatives, the HTML's images attached as ``cid:`` parts.

    Marked ``Auto-Submitted: auto-generated`` so that vacation responders stay quiet.
    Header values are folded to one line: a subject built from monitored text must not be
    able to add headers.
    """
    if not recipients:
        raise ValueError("a message needs at least one recipient")
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text, subtype="plain", cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    if images:
        _, html_part = message.iter_parts()  # the alternatives: text, then HTML
        for cid, png in images.items():
            html_part.add_related(
                png,
                maintype="image",
                subtype="png",
                cid=f"<{cid}>",
                disposition="inline",
                filename=f"{cid.split('@', 1)[0]}.png",
            )
    return message


def _domain(sender: str) -> str:
    try:
        return Address(addr_spec=email.utils.parseaddr(sender)[1]).domain or NO_DOMAIN
    except (ValueError, IndexError):
        return NO_DOMAIN


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
