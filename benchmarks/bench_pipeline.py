"""The forwarder's CPU cost per event: ``Pipeline.process`` (parse, capsule, validate, count)
over 1000-line chunks with valid events dropped, against a bare ``json.loads`` loop over the same
lines, the ceiling every other throughput is stated against."""

from __future__ import annotations

import json
from collections.abc import Sequence

import corpus
import corpus_events
from measure import REPEAT, Run, best_of, each_line, paired, timed
from results import EVENTS, Figure, Reference, at_least, compared, ratio_at_least, within
from workload import Corpus, chunks, count_problem

from el_monitor.catalog.load import load_catalog
from el_monitor.counts.counters import Counters
from el_monitor.event.formats import make_parser
from el_monitor.ingest.pipeline import Pipeline
from el_monitor.ingest.policy import Policy, opt_out_checks, samplers
from el_monitor.ingest.sampling import Sampler
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.typed_lines import TypedLines
from el_monitor.optout.identity import identity_hash
from el_monitor.optout.matcher import OptOutMatcher
from el_monitor.schema.registry import SchemaRegistry

CHECKS_PAIRS = 7  # back-to-back runs with and without the catalog's checks
EXAMPLE_CATALOG = corpus_events.ROOT / "examples" / "el-monitor.toml"


def json_loads_ceiling(lines: Sequence[bytes]) -> tuple[Reference, Figure]:
    """The fastest any per-line JSON work can go here: stdlib ``json.loads`` and nothing else."""
    rate = each_line(lines, json.loads)
    ceiling = Reference("json.loads", rate)
    taken = f"best of {REPEAT}"
    return ceiling, Figure("stdlib json.loads loop (ceiling)", rate, EVENTS, taken, ceiling)


def _ignore(_: object) -> None:
    """accept / reject that do nothing: the store is measured separately."""


def pipeline_run(
    pieces: Sequence[Chunk], fmt: str, registry: SchemaRegistry, valid: int, policy: Policy | None
) -> Run:
    """One ``Pipeline.process`` pass over ``pieces``, valid events dropped."""
    counters = Counters()
    typed = TypedLines(None)  # as the forwarder decodes (rows for MySQL)
    parse = make_parser(fmt, "bench", typed=typed.decode)
    pipeline = Pipeline(parse, registry, counters, _ignore, _ignore, None, policy, typed=typed)

    events = sum(len(chunk.lines) for chunk in pieces)

    def work() -> int:
        for chunk in pieces:
            pipeline.process(chunk)
        return events

    rate = timed(work)
    counted = counters.snapshot().get("overall", "valid")
    return Run(rate, count_problem("counted valid", counted, valid))


def catalog_checks(registry: SchemaRegistry, opted_out: int = 1000) -> Policy:
    """The example catalog's checks, paid in full: each sampled schema's events are hashed
    (and then kept anyway, so validation still runs on all of them), and every user-field
    value is hashed (HMAC-SHA256) and looked up in a list of ``opted_out`` users."""
    catalog = load_catalog(EXAMPLE_CATALOG, registry)
    secret = b"bench-secret"
    hashes = frozenset(
        identity_hash(secret, "enwiki", "user-id", 10_000_000 + i) for i in range(opted_out)
    )
    matcher = OptOutMatcher(secret, hashes, catalog)
    sampler_for = samplers(catalog)

    def hashing_but_keeping(schema: str) -> Sampler | None:
        # The same hash of the same key, but modulo 1: every event kept, none skipped.
        sampler = sampler_for(schema)
        return None if sampler is None else Sampler(1, catalog.policy(schema).sample_key)

    return Policy(hashing_but_keeping, opt_out_checks(catalog, matcher))


def json_pipeline(data: Corpus, registry: SchemaRegistry, ceiling: Reference) -> list[Figure]:
    """JSON lines with and without the catalog's checks, in back-to-back pairs (a fresh
    matcher each time, so no cache carries over); the plain figure is the best plain run."""
    pieces = chunks(data.lines)

    def run(checked: bool) -> Run:
        policy = catalog_checks(registry) if checked else None
        return pipeline_run(pieces, "json", registry, data.valid, policy)

    pairs = paired(run, CHECKS_PAIRS)
    best = Figure(
        "parse+validate+count, JSON lines",
        max(pairs.base),
        EVENTS,
        f"best of {CHECKS_PAIRS}",
        ceiling,
        at_least(100_000, EVENTS),
        pairs.problem,
    )
    return [
        best,
        *compared(
            pairs,
            "  without catalog checks",
            "  with sampling + opt-out checks",
            ceiling,
            ratio_at_least(0.90, "without"),
        ),
    ]


def raw_pipeline(data: Corpus, registry: SchemaRegistry, ceiling: Reference) -> Figure:
    pieces = chunks(data.lines)
    run = best_of(lambda: pipeline_run(pieces, corpus.RAW_FORMAT, registry, data.valid, None))
    return Figure(
        "parse+validate+count, raw varnish lines",
        run.rate,
        EVENTS,
        f"best of {REPEAT}",
        ceiling,
        problem=run.problem,
    )


def kept_share(rate: int = 10, events: int = 100_000) -> Figure:
    """Share kept at 1 in ``rate`` over ``events`` distinct uuids: exact, not timed."""
    sampler = Sampler(rate)
    kept = sum(sampler.keep({"uuid": f"{i:032x}", "event": {}}) for i in range(events))
    return Figure(
        f"kept share at 1 in {rate}",
        kept / events * 100,
        "%",
        f"{events:,} uuids",
        target=within(100 / rate, 0.5, "%"),
    )
