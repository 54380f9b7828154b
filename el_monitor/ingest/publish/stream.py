"""Reaching JetStream: one connection that reconnects for ever once made, and the stream,
created when missing with the limits the publish URI asks for.

Publishes are never buffered while disconnected (``pending_size=0``): a publish then fails at
once, so the beacon answers 503 instead of holding a client for events that may or may not
reach the stream later.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from el_monitor.errors import UserError, missing_extra
from el_monitor.ingest.sources.jetstream_address import JetStreamAddress, StreamLimits

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

log = logging.getLogger(__name__)


async def connect(address: JetStreamAddress, name: str) -> Client:
    """A connection to ``address.server`` that reconnects for ever (``jetstream_connection``),
    never holding a publish while disconnected."""
    try:
        from el_monitor.ingest.sources.jetstream_connection import Callbacks, connect_for_ever
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "publish") from None

    made: list[Client] = []

    async def error(exc: Exception) -> None:
        log.debug("NATS %s: %s", address.server, exc)

    async def disconnected() -> None:
        if made and made[0].is_closed:
            return  # our own close
        log.warning("NATS %s: disconnected; reconnecting", address.server)

    async def reconnected() -> None:
        log.warning("NATS %s: reconnected", address.server)

    callbacks = Callbacks(disconnected, reconnected, error)
    client = await connect_for_ever(address.server, name, callbacks, buffer_while_away=False)
    made.append(client)
    return client


async def ensure_stream(
    js: JetStreamContext, address: JetStreamAddress, limits: StreamLimits
) -> bool:
    """Create ``address.stream`` for ``address.subject`` when missing (True when made); an
    existing stream is kept as it is, but must take the subject."""
    from nats.js.api import DiscardPolicy, StorageType, StreamConfig
    from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

    try:
        info = await js.stream_info(address.stream)
    except NotFoundError:
        info = None
    except (ServiceUnavailableError, TimeoutError) as exc:
        raise UserError(
            f"{address.server} has no JetStream ({exc}): start nats-server -js"
        ) from None
    if info is not None:
        subjects = info.config.subjects or []
        if not any(_covers(pattern, address.subject) for pattern in subjects):
            raise UserError(
                f"stream {address.stream} exists but does not take subject {address.subject!r} "
                f"(it takes {', '.join(subjects) or 'nothing'}): name another ?stream="
            )
        return False
    config = StreamConfig(
        name=address.stream,
        subjects=[address.subject],
        storage=StorageType.FILE,
        max_age=limits.max_age,
        max_bytes=limits.max_bytes,
        discard=DiscardPolicy.NEW,
        duplicate_window=limits.duplicate_window,
        num_replicas=limits.replicas,
    )
    try:
        await js.add_stream(config)
    except APIError as exc:
        raise UserError(f"cannot create stream {address.stream}: {exc.description}") from None
    log.info("created stream %s for %s (max age %gs, max %d bytes, file storage)",
             address.stream, address.subject, limits.max_age, limits.max_bytes)  # fmt: skip
    return True


def _covers(pattern: str, subject: str) -> bool:
    """Whether a stream subject (with ``*`` and ``>`` wildcards) takes ``subject``."""
    want, tokens = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or token not in ("*", tokens[i]):
            return False
    return len(want) == len(tokens)
