"""Building and sending el-monitor's mails: one HTML+text message, graphs inline, via SMTP.

Shared API (``el-monitor notify`` and the daily report both use it; keep it stable):

``build_message(subject, sender, recipients, text, html, images) -> EmailMessage``
    ``multipart/alternative``: the text part first, then a ``multipart/related`` holding the
    HTML and its inline PNGs.  ``images`` maps a Content-ID (without angle brackets, e.g. from
    :func:`new_cid`) to PNG bytes; the HTML refers to each as ``<img src="cid:THAT-ID">``.
    Clients that show HTML show the graphs in place; the others show the text part.

``send(settings, messages, *, env=None) -> None``
    Hands every message to the SMTP server of ``settings`` (an ``SmtpSettings`` from the
    catalog) over one connection: plain, STARTTLS or implicit TLS, logging in when
    ``settings.user`` is set.  The password comes from ``settings.password_file`` or the
    environment variable ``EL_MONITOR_SMTP_PASSWORD``, never from the command line.  Every
    failure is a :class:`MailError` (a ``UserError``) whose message is one line naming the
    server and what to check.

Only the standard library is used, so importing this module is cheap.
"""

from __future__ import annotations

import email.utils
import os
import smtplib
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from el_monitor.errors import UserError
from el_monitor.hostport import parse_host_port
from el_monitor.mail.settings import SmtpSettings

__all__ = [
    "ENV_PASSWORD",
    "MailError",
    "build_message",
    "new_cid",
    "parse_smtp_address",
    "send",
    "smtp_password",
]

ENV_PASSWORD = "EL_MONITOR_SMTP_PASSWORD"


class MailError(UserError):
    """The mail could not be handed to the SMTP server; one line naming server and fix."""


def new_cid(name: str = "graph") -> str:
    """A fresh, globally unique Content-ID (no angle brackets) for an inline image.

    The domain is fixed rather than the host's FQDN: ``make_msgid`` would otherwise ask DNS.
    """
    return make_msgid(idstring=name, domain="el-monitor.invalid")[1:-1]


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
        html_part = message.get_payload()[1]
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
        return Address(addr_spec=email.utils.parseaddr(sender)[1]).domain or "el-monitor.invalid"
    except (ValueError, IndexError):
        return "el-monitor.invalid"


def parse_smtp_address(text: str) -> tuple[str, int | None]:
    """``HOST[:PORT]`` (``[v6]:PORT`` for IPv6) from ``--smtp``; the port None when absent."""
    try:
        return parse_host_port(text, None)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}; write HOST:PORT such as localhost:25") from None


def smtp_password(settings: SmtpSettings, env: Mapping[str, str] | None = None) -> str | None:
    """The SMTP password: ``password_file`` (first line) if set, else ``$EL_MONITOR_SMTP_PASSWORD``.

    None when neither is there; :func:`send` refuses to log in without one.
    """
    if settings.password_file:
        path = Path(settings.password_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MailError(
                f"cannot read the SMTP password file {path}: {exc.strerror or exc}; "
                "check [smtp] password_file and its permissions"
            ) from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    environ = os.environ if env is None else env
    return environ.get(ENV_PASSWORD)


def send(
    settings: SmtpSettings,
    messages: Iterable[EmailMessage],
    *,
    env: Mapping[str, str] | None = None,
) -> None:
    """Hand every message to the SMTP server of ``settings`` over one connection.

    Envelope recipients are read from each message's To/Cc headers (smtplib's
    ``send_message``).  Raises :class:`MailError` on any failure; a message the server
    refused for some recipients but accepted for others counts as a failure too, because an
    owner who never learns of an alert is the thing this tool exists to prevent.
    """
    messages = list(messages)
    if not messages:
        return
    where = f"SMTP server {settings.host}:{settings.port}"
    password = None
    if settings.user:
        password = smtp_password(settings, env)
        if password is None:
            raise MailError(
                f"{where}: user {settings.user!r} is set but no password: set [smtp] "
                f"password_file or ${ENV_PASSWORD}"
            )
    try:
        client = _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"{where}: cannot connect ({_reason(exc)}); check [smtp] or --smtp"
        ) from None
    try:
        with client:
            if settings.security == "starttls":
                try:
                    client.starttls(context=ssl.create_default_context())
                except smtplib.SMTPNotSupportedError:
                    raise MailError(
                        f"{where}: does not offer STARTTLS; set [smtp] security to "
                        '"none" or "tls", or use the submission port'
                    ) from None
            if settings.user:
                try:
                    client.login(settings.user, password or "")
                except smtplib.SMTPNotSupportedError:
                    raise MailError(
                        f"{where}: offers no login (AUTH); unset [smtp] user, or use "
                        'security "starttls" if it offers AUTH only over TLS'
                    ) from None
            for message in messages:
                refused = client.send_message(message)
                if refused:
                    who = ", ".join(sorted(refused))
                    raise MailError(f"{where}: refused recipient(s) {who}")
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"{where}: login as {settings.user!r} refused ({_reason(exc)}); check the password"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        who = ", ".join(sorted(exc.recipients))
        raise MailError(f"{where}: refused every recipient ({who})") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"{where}: sending failed ({_reason(exc)})") from None


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    # local_hostname: smtplib would otherwise call socket.getfqdn(), a DNS round trip.
    local = socket.gethostname() or "localhost"
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            local_hostname=local,
            timeout=settings.timeout,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(
        settings.host, settings.port, local_hostname=local, timeout=settings.timeout
    )


def _reason(exc: BaseException) -> str:
    """One line: errno text, or the SMTP code and message."""
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        return f"{exc.smtp_code} {' '.join(text.split())}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__
