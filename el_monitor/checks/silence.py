"""check_el_silence: traffic that should be there and is not.

Two findings in one check:

* **silent forwarders** (always): every forwarder instance Graphite knows under the prefix
  (or just ``--instance NAME``) must have sent ``overall.raw.count`` points in the window.
  One that sent none is CRITICAL, with when it was last heard of (looked up over
  ``--lookback``, default -24h)::

      EL_SILENCE CRITICAL - no metrics from any forwarder since 2024-05-01 13:55:10 UTC

  A retired forwarder stays "silent" until its whisper files are removed from Graphite.
* **canary schemas** (``--schema NAME``, repeatable): the schema's mean raw rate over the
  window against floors given as ranges, e.g. ``-w 5: -c 1:`` (warn below 5/s, critical
  below 1/s; the default is ``-c 1:`` and no warning).  A canary with no points counts as 0/s.

Perfdata: the number of ``forwarders`` sending, and each canary's mean rate.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import nagiosplugin

from el_monitor.argtypes import instance_name, schema_name
from el_monitor.checks import options, output
from el_monitor.checks.acquire import Frame, Graphite, Window
from el_monitor.checks.judge import Points, ValueContext, compared
from el_monitor.checks.runtime import run
from el_monitor.graphite import names
from el_monitor.graphite.render import RenderError

NAME = "EL_SILENCE"
METRIC = names.metric(names.OVERALL, "raw", names.COUNT)


class Forwarders(NamedTuple):
    """Which forwarders sent metrics in the window, and since when the silent ones have not."""

    sending: tuple[str, ...]
    silent: tuple[str, ...]
    since: str  # "since <time>" / "in the last 24h": when anything was last heard
    known: bool  # Graphite has the metric at all


def _when(stamp: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


class Silence(nagiosplugin.Resource):
    """Per-forwarder raw counts and the canaries' rates in one request; a second, longer one
    only when something is silent, to say since when."""

    def __init__(
        self,
        graphite: Graphite,
        prefix: str,
        schemas: Sequence[str],
        instance: str,
        lookback: str,
    ) -> None:
        self.graphite = graphite
        self.prefix = prefix
        self.schemas = tuple(dict.fromkeys(schemas))
        self.instance = instance
        self.lookback = lookback

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        targets = [names.by_instance(self.prefix, METRIC, self.instance)]
        if self.schemas:
            canaries = names.schema_scope(names.alternatives(self.schemas))
            rates = names.metric(canaries, "raw", names.RATE)
            targets.append(names.summed(self.prefix, rates, self.instance))
        series = self.graphite.render(targets)
        forwarders = [s for s in series if "." not in s.target]
        frame = Frame(s for s in series if "." in s.target)
        sending = tuple(sorted(s.target for s in forwarders if s.values()))
        silent = tuple(sorted(s.target for s in forwarders if not s.values()))
        since = ""
        if silent or not sending:
            since = self._since(silent) if forwarders else ""
        yield nagiosplugin.Metric(
            "forwarders", Forwarders(sending, silent, since, bool(forwarders)), context="forwarders"
        )
        for schema in self.schemas:
            rate = names.metric(names.schema_scope(schema), "raw", names.RATE)
            points = Points(tuple(frame.values(rate)))
            yield nagiosplugin.Metric(schema, points.mean or 0.0, min=0, context="canary")

    def _since(self, silent: Sequence[str]) -> str:
        """``since <last point>`` from a look further back, or how far back it looked."""
        glob = names.alternatives(silent) if silent else self.instance
        try:
            older = self.graphite.render(
                [names.by_instance(self.prefix, METRIC, glob)],
                from_=self.lookback,
                until=self.graphite.window.from_,
            )
        except RenderError:
            return f"over {self.graphite.window.label()} (looking further back failed)"
        stamps = [ts for s in older for value, ts in s.points if value is not None]
        if stamps:
            return f"since {_when(max(stamps))}"
        back = Window(self.lookback, "now").label()
        return f"in {back}" if back.startswith("the last") else f"since {self.lookback}"


class ForwardersContext(nagiosplugin.Context):
    """CRITICAL when a forwarder (or all of them) sent nothing in the window."""

    def __init__(self) -> None:
        super().__init__("forwarders")

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        value = metric.value
        bad = bool(value.silent) or not value.sending
        return nagiosplugin.Result(nagiosplugin.Critical if bad else nagiosplugin.Ok, None, metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return output.performance("forwarders", len(metric.value.sending), "", None, None, 0)


class SilenceSummary(nagiosplugin.Summary):
    def __init__(self, window: str, prefix: str, instance: str) -> None:
        self.window = window
        self.prefix = prefix
        self.instance = instance

    def _forwarders(self, result: nagiosplugin.Result) -> str:
        value: Forwarders = result.metric.value
        metric = names.full_name(self.prefix, METRIC, self.instance)
        if self.instance != "*":
            who = f"forwarder {self.instance}"
            if not value.known:
                return (
                    f"no metrics from {who}: Graphite has no {metric} at all "
                    "(wrong --instance or --prefix?)"
                )
            if result.state == nagiosplugin.Ok:
                return f"{who} sending over {self.window}"
            return f"no metrics from {who} {value.since}"
        if not value.known:
            return (
                f"no metrics from any forwarder: Graphite has no {metric} at all "
                "(wrong --prefix, or no forwarder ever sent metrics here?)"
            )
        if not value.sending:
            return f"no metrics from any forwarder {value.since} ({', '.join(value.silent)})"
        if value.silent:
            silent = output.listing(list(value.silent))
            verb = "forwarder" if len(value.silent) == 1 else "forwarders"
            return (
                f"{verb} {silent} sent no metrics {value.since}; "
                f"{len(value.sending)} of {len(value.sending) + len(value.silent)} sending"
            )
        count = len(value.sending)
        return f"{count} forwarder{'s' if count != 1 else ''} sending over {self.window}"

    @staticmethod
    def _canary(result: nagiosplugin.Result) -> str:
        metric = result.metric
        rng = result.context.failed(result)
        text = f"{metric.name} {output.num(metric.value)}/s"
        return text if rng is None else f"{text} {compared(metric.value, rng)}"

    def _line(self, results: nagiosplugin.Results, problems_only: bool) -> str:
        parts = []
        for result in output.by_context(results, "forwarders"):
            if not problems_only or result.state != nagiosplugin.Ok:
                parts.append(self._forwarders(result))
        canaries = output.by_context(results, "canary")
        if problems_only:
            bad = [self._canary(r) for r in canaries if r.state != nagiosplugin.Ok]
            if bad:
                parts.append(", ".join(bad) + f" over {self.window}")
        elif canaries:
            shown = ", ".join(f"{r.metric.name} {output.num(r.metric.value)}/s" for r in canaries)
            parts.append(f"canaries: {shown}")
        return "; ".join(parts)

    def ok(self, results: nagiosplugin.Results) -> str:
        return self._line(results, problems_only=False)

    def problem(self, results: nagiosplugin.Results) -> str:
        return output.unknown_text(results) or self._line(results, problems_only=True)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        lines = []
        for result in output.by_context(results, "forwarders"):
            value = result.metric.value
            lines += [f"forwarder {name}: sending" for name in value.sending]
            lines += [f"forwarder {name}: silent {value.since}" for name in value.silent]
        for result in output.by_context(results, "canary"):
            lines.append(
                f"canary {result.metric.name}: {output.num(result.metric.value)}/s, "
                f"{str(result.state).upper()}"
            )
        return lines


def build_parser() -> argparse.ArgumentParser:
    parser = options.plugin_parser(
        "check_el_silence",
        "Forwarders that stopped sending metrics, and canary schemas whose rate fell under a "
        "floor.",
        warning=None,
        critical="1:",
        units="events/s for each --schema (5: means below 5/s)",
    )
    parser.add_argument(
        "--schema",
        action="append",
        default=[],
        type=schema_name,
        metavar="NAME",
        help="a canary schema whose mean rate must stay within -w/-c (repeatable)",
    )
    parser.add_argument(
        "--instance",
        type=instance_name,
        metavar="NAME",
        help="check only this forwarder instance (default: every one Graphite knows)",
    )
    parser.add_argument(
        "--lookback",
        default="-24h",
        metavar="TIME",
        help="how far back to look for a silent forwarder's last metrics (default: %(default)s)",
    )
    return parser


def build_check(args: argparse.Namespace, graphite: Graphite) -> nagiosplugin.Check:
    instance = args.instance or "*"
    return nagiosplugin.Check(
        Silence(graphite, args.prefix, args.schema, instance, args.lookback),
        ForwardersContext(),
        ValueContext("canary", args.warning, args.critical),
        SilenceSummary(graphite.window.label(), args.prefix, instance),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, build_parser(), build_check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
