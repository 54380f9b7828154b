"""Sending el-monitor's mails: one SMTP connection per batch, password from a file or the env.

``send(settings, messages, *, env=None) -> None`` hands every message to the SMTP server of
``settings`` (an ``SmtpSettings`` from the catalog) over one connection: plain, STARTTLS or
implicit TLS, logging in when ``settings.user`` is set.  The password comes from
``settings.password_file`` or the environment variable ``EL_MONITOR_SMTP_PASSWORD``, never from
the command line.  Every failure is a :class:`MailError` (a ``UserError``) whose message is one
line naming the server and what to check.  The messages themselves are built by
``el_monitor.mail.message``.

Only the standard library is used, so importing this module is cheap.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from pathlib import Path

from el_monitor.errors import UserError
from el_monitor.hostport import parse_host_port
from el_monitor.mail.settings import SmtpSettings

__all__ = [
    "ENV_PASSWORD",
    "MailError",
    "parse_smtp_address",
    "send",
    "smtp_password",
]

ENV_PASSWORD = "EL_MONITOR_SMTP_PASSWORD"


class MailError(UserError):
    """The mail could not be handed to the SMTP server; one line naming server and fix."""


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
