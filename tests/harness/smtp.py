"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a port the kernel picks."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Inbox:
    """aiosmtpd handler keeping every envelope.

    Mail is accepted without a login; a client that logs in (AUTH PLAIN, see ``smtp_server``)
    succeeds with a user and password of ``accounts``, and every attempt is kept in ``logins``.
    """

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.accounts: dict[str, str] = {}
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        login = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(login)
        return AuthResult(success=self.accounts.get(login[0]) == login[1], handled=False)

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        """Every message so far, parsed, with its envelope recipients."""
        return [
            (rcpt, email.message_from_bytes(raw, policy=email.policy.default))
            for _, rcpt, raw in self.envelopes
        ]

    def take(self) -> list[tuple[list[str], EmailMessage]]:
        """The messages received since the last call."""
        out = self.messages()
        self.envelopes.clear()
        return out  # type: ignore[return-value]


class FreePortController(Controller):
    """aiosmtpd's Controller on port 0: the real port is read back before the first probe."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server(handler: Inbox | None = None, **kwargs) -> Iterator[FreePortController]:
    """A started server (``.port``, ``.handler``), stopped on exit.

    It offers AUTH PLAIN without TLS, checked against the handler's ``accounts``.
    """
    handler = handler or Inbox()
    kwargs.setdefault("authenticator", handler.authenticate)
    kwargs.setdefault("auth_require_tls", False)
    kwargs.setdefault("auth_exclude_mechanism", ["LOGIN"])  # smtplib retries a refused PLAIN
    controller = FreePortController(handler, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
