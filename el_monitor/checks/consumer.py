"""check_el_consumer: is the forwarders' JetStream consumer group keeping up, and is anyone in it?

The durable consumer that ``forward --input nats://HOST:PORT/STREAM?consumer=NAME`` shares is
read twice, ``--interval`` seconds apart (``consumer_info``).  Its figures are perfdata:
``pending`` (in the stream, not yet delivered to any member), ``ack_pending`` (delivered, not
yet acknowledged: being stored, or held by a member that died until the ack wait ends),
``redelivered``, ``waiting`` (pull requests outstanding: a member waiting for messages has
one) and ``delivered`` (deliveries between the two readings)::

    EL_CONSUMER OK - 12 pending, 40 unacknowledged; 2 pull requests waiting, 1250
    delivered in 5 s (consumer forwarders of EVENTLOGGING_RAW) | pending=12;100000;1000000;0 ...

``-w``/``-c`` judge ``pending``; ``--ack-pending-warning``/``--ack-pending-critical`` judge
``ack_pending``.  Whatever the thresholds, it is CRITICAL when nobody consumes: messages not
yet acknowledged (pending or unacknowledged) and, across the interval, no pull request
waiting at either reading and nothing delivered or acknowledged.  A member between pulls is
seen by the deliveries it made; a backlog nobody takes is stuck whether or not producers
still add to it, so growth is said but not required.  A member that spends longer than
``--interval`` committing one batch without pulling would look idle: raise ``--interval``.

A missing stream or consumer, JetStream off, or NATS unreachable is UNKNOWN in one line.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import nagiosplugin
from nagiosplugin import Critical, Ok

from el_monitor.argtypes import positive_float
from el_monitor.checks import options, output
from el_monitor.checks.judge import PerfContext, ValueContext, compared
from el_monitor.checks.options import nagios_range
from el_monitor.checks.runtime import run_check
from el_monitor.errors import UserError, missing_extra
from el_monitor.ingest.sources.jetstream_address import JetStreamAddress, parse_consume_uri

if TYPE_CHECKING:
    from el_monitor.ingest.sources.jetstream_group import ConsumerState

NAME = "EL_CONSUMER"
PENDING, ACK_PENDING, CONSUMING = "pending", "ack_pending", "consuming"
PERF = "perf"
DEFAULT_INTERVAL = 5.0
CONNECT_SECONDS = 2.0
STREAM_NOT_FOUND, CONSUMER_NOT_FOUND = 10059, 10014  # JetStream API error codes


class Activity(NamedTuple):
    """Two samples ``interval`` seconds apart."""

    first: ConsumerState
    last: ConsumerState
    interval: float

    @property
    def delivered(self) -> int:
        return self.last.delivered_seq - self.first.delivered_seq

    @property
    def acked(self) -> int:
        return self.last.acked_seq - self.first.acked_seq

    @property
    def backlog(self) -> int:
        return self.last.pending + self.last.ack_pending

    @property
    def stalled(self) -> bool:
        """Messages wait and no member pulled, took or acknowledged any in the interval."""
        idle = self.first.waiting == 0 and self.last.waiting == 0
        return self.backlog > 0 and idle and self.delivered == 0 and self.acked == 0


async def read_activity(address: JetStreamAddress, interval: float, timeout: float) -> Activity:
    """Two samples of the consumer, ``interval`` apart; a failure is one ``CheckError`` line."""
    try:
        import nats

        from el_monitor.ingest.sources.jetstream_group import consumer_state
    except ModuleNotFoundError as exc:
        raise nagiosplugin.CheckError(str(missing_extra(exc, "check_el_consumer"))) from exc
    from nats.errors import Error as NatsError
    from nats.errors import NoServersError
    from nats.js.errors import NotFoundError, ServiceUnavailableError

    where = f"consumer {address.consumer} of stream {address.stream} at {address.server}"
    seen: list[Exception] = []

    async def record(exc: Exception) -> None:
        """Instead of nats-py's logging to stderr: the cause goes in the one status line."""
        seen.append(exc)

    try:
        client = await nats.connect(
            address.server,
            connect_timeout=min(timeout, CONNECT_SECONDS),
            allow_reconnect=False,
            max_reconnect_attempts=1,  # 0 would be "for ever" when the first connect fails
            reconnect_time_wait=0.2,
            error_cb=record,
        )
    except (TimeoutError, NoServersError, OSError, NatsError) as exc:
        cause = str(seen[-1] if seen else exc) or "no answer to the NATS handshake"
        raise nagiosplugin.CheckError(f"cannot reach NATS at {address.server} ({cause})") from exc
    try:
        jetstream = client.jetstream(timeout=timeout)
        assert address.consumer is not None  # parse_consume_uri insists
        first = consumer_state(await jetstream.consumer_info(address.stream, address.consumer))
        await asyncio.sleep(interval)
        last = consumer_state(await jetstream.consumer_info(address.stream, address.consumer))
    except NotFoundError as exc:
        if exc.err_code == STREAM_NOT_FOUND:
            message = f"stream {address.stream} not found at {address.server}"
        else:
            message = f"consumer {address.consumer} not found in stream {address.stream}"
        raise nagiosplugin.CheckError(f"{message}: check --stream") from exc
    except ServiceUnavailableError as exc:
        raise nagiosplugin.CheckError(f"JetStream unavailable for {where} ({exc})") from exc
    except (TimeoutError, NatsError) as exc:
        raise nagiosplugin.CheckError(f"cannot read {where} ({exc})") from exc
    finally:
        await client.close()
    return Activity(first, last, interval)


class Consumer(nagiosplugin.Resource):
    def __init__(self, address: JetStreamAddress, interval: float, timeout: float) -> None:
        self.address, self.interval, self.timeout = address, interval, timeout

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        activity = asyncio.run(read_activity(self.address, self.interval, self.timeout))
        last = activity.last
        yield nagiosplugin.Metric(PENDING, last.pending, min=0, context=PENDING)
        yield nagiosplugin.Metric(ACK_PENDING, last.ack_pending, min=0, context=ACK_PENDING)
        yield nagiosplugin.Metric(CONSUMING, activity, context=CONSUMING)
        yield nagiosplugin.Metric("redelivered", last.redelivered, min=0, context=PERF)
        yield nagiosplugin.Metric("waiting", last.waiting, min=0, context=PERF)
        yield nagiosplugin.Metric("delivered", activity.delivered, min=0, context=PERF)


class ConsumingContext(nagiosplugin.Context):
    """CRITICAL when a backlog waits and nobody consumes (``Activity.stalled``)."""

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        activity: Activity = metric.value
        if not activity.stalled:
            return nagiosplugin.Result(Ok, None, metric)
        seconds = output.num(activity.interval)
        growth = activity.last.pending - activity.first.pending
        grew = f" (+{growth} in {seconds} s)" if growth > 0 else ""
        hint = (
            f"nobody consumes: {activity.backlog} messages wait{grew}, no pull request "
            f"waiting and nothing delivered or acknowledged in {seconds} s"
        )
        return nagiosplugin.Result(Critical, hint, metric)


def _counts(results: nagiosplugin.Results, judged: bool) -> list[str]:
    """``12 pending (> 10)``, ``40 unacknowledged``: with the range each fails, if judged."""
    parts = []
    for context, words in ((PENDING, "pending"), (ACK_PENDING, "unacknowledged")):
        result = results[context]
        text = f"{result.metric.value} {words}"
        if judged and result.state != Ok:
            limit = result.context.failed(result)
            text += f" ({compared(result.metric.value, limit)})" if limit is not None else ""
        parts.append(text)
    return parts


class ConsumerSummary(nagiosplugin.Summary):
    def __init__(self, address: JetStreamAddress) -> None:
        self.address = address

    def _where(self) -> str:
        return f"(consumer {self.address.consumer} of {self.address.stream})"

    def ok(self, results: nagiosplugin.Results) -> str:
        activity: Activity = results[CONSUMING].metric.value
        waiting = activity.last.waiting
        requests = f"{waiting} pull request{'s' if waiting != 1 else ''} waiting"
        delivered = f"{activity.delivered} delivered in {output.num(activity.interval)} s"
        counts = ", ".join(_counts(results, judged=False))
        return f"{counts}; {requests}, {delivered} {self._where()}"

    def problem(self, results: nagiosplugin.Results) -> str:
        unknown = output.unknown_text(results)
        if unknown:
            return unknown
        consuming = results[CONSUMING]
        parts = [str(consuming.hint)] if consuming.state != Ok else []
        parts.append(", ".join(_counts(results, judged=True)))
        return "; ".join(parts) + f" {self._where()}"

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        if CONSUMING not in results:
            return []
        activity: Activity = results[CONSUMING].metric.value
        lines = [
            f"{when} reading: {s.pending} pending, {s.ack_pending} unacknowledged, "
            f"{s.redelivered} redelivered, {s.waiting} pull requests waiting, last delivery "
            f"{s.delivered_seq}, ack floor {s.acked_seq} (consumer sequences)"
            for when, s in (("first", activity.first), ("second", activity.last))
        ]
        lines.append(
            f"in {output.num(activity.interval)} s: {activity.delivered} delivered, ack floor "
            f"+{activity.acked}"
        )
        return lines


def build_parser() -> argparse.ArgumentParser:
    parser = options.base_parser(
        "check_el_consumer",
        "A JetStream durable consumer shared by forwarders: pending and unacknowledged "
        "messages judged, and CRITICAL when messages wait and nobody consumes (no pull "
        "request waiting, nothing delivered or acknowledged over --interval).",
        warning="100000",
        critical="1000000",
        units="pending messages",
        waits_for="NATS and --interval",
    )
    parser.add_argument(
        "--stream",
        required=True,
        type=_address,
        metavar="URI",
        help="nats://HOST:PORT/STREAM?consumer=NAME, as the forwarders' --input",
    )
    for level in ("warning", "critical"):
        parser.add_argument(
            f"--ack-pending-{level}",
            type=nagios_range,
            metavar="RANGE",
            help=f"{level} range in unacknowledged messages (default: none)",
        )
    parser.add_argument(
        "--interval",
        type=positive_float,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help="time between the two readings that tell whether anyone consumes; longer than a "
        "member takes to commit one batch, shorter than -t (default: %(default)g)",
    )
    return parser


def _address(text: str) -> JetStreamAddress:
    try:
        return parse_consume_uri(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_check(args: argparse.Namespace) -> nagiosplugin.Check:
    if args.interval >= args.timeout:
        interval, timeout = f"--interval {args.interval:g}", f"-t {args.timeout:g}"
        raise UserError(f"usage: {interval} must be shorter than {timeout}")
    return nagiosplugin.Check(
        Consumer(args.stream, args.interval, args.timeout),
        ValueContext(PENDING, args.warning, args.critical),
        ValueContext(ACK_PENDING, args.ack_pending_warning, args.ack_pending_critical),
        ConsumingContext(CONSUMING),
        PerfContext(PERF),
        ConsumerSummary(args.stream),
    )


def _source(args: argparse.Namespace) -> str:
    return f"NATS {args.stream.server}"


def main(argv: Sequence[str] | None = None) -> int:
    return run_check(NAME, build_parser(), build_check, _source, argv)


if __name__ == "__main__":
    raise SystemExit(main())
