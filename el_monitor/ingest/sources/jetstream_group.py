"""Joining a JetStream consumer group: reach the server, check the stream, make the durable
pull consumer when no member has yet (or check the one there), and bind a pull subscription.

Every mistake a user can make here (a server that refuses, no JetStream, no such stream, a
consumer of the wrong kind) is one ``UserError`` line naming the source.
"""

from __future__ import annotations

import logging
import os
from typing import Any, NamedTuple

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from el_monitor.errors import UserError
from el_monitor.event.names import short_hostname
from el_monitor.ingest.sources.jetstream_address import ConsumerSettings, JetStreamAddress
from el_monitor.ingest.sources.jetstream_connection import Callbacks, connect_for_ever

log = logging.getLogger(__name__)

API_SECONDS = 10.0  # for each JetStream API request


class ConsumerState(NamedTuple):
    """One ``consumer_info`` of a durable consumer, as its readers (``check_el_consumer``, the
    forwarder drill) need it.  Sequences only move forward, so two states say what happened
    between them; ``ack_floor_stream``: every message up to this stream sequence is
    acknowledged."""

    pending: int
    ack_pending: int
    redelivered: int
    waiting: int  # pull requests waiting: members idle for want of messages
    delivered_seq: int  # consumer sequence of the last delivery
    acked_seq: int  # consumer sequence of the ack floor
    delivered_stream: int  # stream sequence of the last delivery
    ack_floor_stream: int
    ack_wait: float


def consumer_state(info: Any) -> ConsumerState:
    """A ``nats.js.api.ConsumerInfo`` as a ``ConsumerState``."""
    delivered, floor = info.delivered, info.ack_floor
    return ConsumerState(
        pending=info.num_pending or 0,
        ack_pending=info.num_ack_pending or 0,
        redelivered=info.num_redelivered or 0,
        waiting=info.num_waiting or 0,
        delivered_seq=delivered.consumer_seq or 0 if delivered else 0,
        acked_seq=floor.consumer_seq or 0 if floor else 0,
        delivered_stream=delivered.stream_seq or 0 if delivered else 0,
        ack_floor_stream=floor.stream_seq or 0 if floor else 0,
        ack_wait=float(info.config.ack_wait or 30),
    )


class Member(NamedTuple):
    """A joined member: its connection, JetStream context, pull subscription, and the
    group's settings (the consumer's own ack wait, whatever the address asked)."""

    nc: Client
    js: JetStreamContext
    sub: Any  # JetStreamContext.PullSubscription
    settings: ConsumerSettings


async def join(
    name: str, address: JetStreamAddress, settings: ConsumerSettings, callbacks: Callbacks
) -> Member:
    """Connect (nats-py reconnects for ever after) and join the group ``address`` names."""
    nc = await connect_for_ever(
        address.server, f"el-monitor forward {short_hostname()} {os.getpid()}", callbacks, name
    )
    try:
        js = nc.jetstream(timeout=API_SECONDS)
        await _check_stream(name, js, address)
        settings = await ensure_consumer(name, js, address, settings)
        sub = await js.pull_subscribe_bind(consumer=address.consumer, stream=address.stream)
    except BaseException:
        await nc.close()
        raise
    return Member(nc, js, sub, settings)


async def _check_stream(name: str, js: JetStreamContext, address: JetStreamAddress) -> None:
    try:
        await js.stream_info(address.stream)
    except nats.js.errors.NotFoundError:
        raise UserError(
            f"{name}: stream {address.stream} does not exist on {address.server}; "
            "el-monitor publish makes it (or nats stream add)"
        ) from None
    except nats.errors.NoRespondersError:
        raise UserError(
            f"{name}: {address.server} has no JetStream; start nats-server with -js"
        ) from None


async def ensure_consumer(
    name: str, js: JetStreamContext, address: JetStreamAddress, settings: ConsumerSettings
) -> ConsumerSettings:
    """Make the durable consumer unless a member already has; when it exists with other
    settings, those stay (a group has one set) and this is said.  Returns the settings with
    the group's own ack wait."""
    assert address.consumer is not None
    try:
        info = await js.consumer_info(address.stream, address.consumer)
    except nats.js.errors.NotFoundError:
        config = ConsumerConfig(
            durable_name=address.consumer,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=settings.ack_wait,
            max_ack_pending=settings.max_ack_pending,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=address.subject or None,
        )
        info = await js.add_consumer(address.stream, config)
        log.info("%s: made consumer %s (ack wait %g s, at most %d unacknowledged)",
                 name, address.consumer, settings.ack_wait,
                 settings.max_ack_pending)  # fmt: skip
    config = info.config
    pull = config.deliver_subject is None
    if config.ack_policy != AckPolicy.EXPLICIT or config.durable_name is None or not pull:
        raise UserError(
            f"{name}: consumer {address.consumer} is not a durable pull consumer with explicit "
            "acks; delete it or name another"
        )
    asked_wait = "ack_wait" in address.options and config.ack_wait != settings.ack_wait
    if asked_wait or (config.filter_subject or "") != address.subject:
        log.warning("%s: consumer %s exists with ack wait %g s and filter %r; those stay",
                    name, address.consumer, config.ack_wait or 30,
                    config.filter_subject or "")  # fmt: skip
    return settings._replace(ack_wait=float(config.ack_wait or settings.ack_wait))
