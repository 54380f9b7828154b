"""The connection the long-running NATS clients share (``forward``'s group members and
``publish``): made once or refused in one line, then reconnecting for ever.

nats-py told to reconnect for ever also retries a *first* connection that is refused for ever,
so the server's port is probed first: a wrong address fails at once instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NamedTuple
from urllib.parse import urlsplit

import nats
import nats.errors
from nats.aio.client import Client

from el_monitor.errors import UserError

CONNECT_SECONDS = 10.0  # to reach the server at start
RECONNECT_SECONDS = 0.5


class Callbacks(NamedTuple):
    """What the connection tells its owner (nats-py's callbacks)."""

    disconnected: Callable[[], Awaitable[None]]
    reconnected: Callable[[], Awaitable[None]]
    error: Callable[[Exception], Awaitable[None]]


async def connect_for_ever(
    server: str,
    client_name: str,
    callbacks: Callbacks,
    who: str = "",
    buffer_while_away: bool = True,
) -> Client:
    """A connection to ``server`` that reconnects for ever once made; ``UserError`` (prefixed
    with ``who``) when it cannot be made within ``CONNECT_SECONDS``.  Without
    ``buffer_while_away`` a publish made while disconnected fails at once instead of waiting
    in the client for a reconnection."""
    extra = {} if buffer_while_away else {"pending_size": 0}
    try:
        await _probe(server)
        return await asyncio.wait_for(
            nats.connect(
                server,
                name=client_name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=RECONNECT_SECONDS,
                connect_timeout=2,
                disconnected_cb=callbacks.disconnected,
                reconnected_cb=callbacks.reconnected,
                error_cb=callbacks.error,
                **extra,
            ),
            CONNECT_SECONDS,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        cause = str(exc) or f"no answer in {CONNECT_SECONDS:g} s"
        raise UserError(
            f"{who + ': ' if who else ''}cannot reach NATS at {server} ({cause}); check the "
            "address and that nats-server runs there (with -js)"
        ) from None


async def _probe(server: str) -> None:
    parts = urlsplit(server)
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, parts.port), CONNECT_SECONDS
    )
    writer.close()
