"""Deterministic synthetic EventLogging traffic, built from the bundled samples and schemas.

Benchmarks and the demo need realistic input that is the same on every run: every schema of
``examples/schemas`` in use, events that vary the way real ones do (yet stay valid against their
schema, which is checked), and a known share of the invalid lines a real forwarder sees.  The
same seed always gives the same bytes, and a shorter run is a prefix of a longer one.

Usage::

    python benchmarks/corpus.py --count 3000 --format json --seed 1 --out events.jsonl
    python benchmarks/corpus.py --count 2000 --format raw --seed 2 --out client.log
    python benchmarks/corpus.py --count 2000 --events real --schema NavigationTiming --check
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from urllib.parse import quote_plus

import orjson
from corpus_events import (
    EVENT_MUTATIONS,
    SCHEMAS,
    START,
    event_body,
    load_models,
    malformed,
)
from corpus_values import USER_AGENTS, RealBodies

RAW_FORMAT = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"
FORMATS = ("json", "raw")
# small: the published examples varied (a few fields each, 337 bytes a line on average);
# real: every property of the schema filled as production fills it (corpus_values.py).
EVENTS = ("small", "real")
EVENTS_PER_SECOND = 200  # how fast the synthetic clock advances

# (wiki, webHost); mobile hosts are derived from desktop ones for some events.
WIKIS = (
    ("enwiki", "en.wikipedia.org"),
    ("dewiki", "de.wikipedia.org"),
    ("frwiki", "fr.wikipedia.org"),
    ("eswiki", "es.wikipedia.org"),
    ("jawiki", "ja.wikipedia.org"),
    ("ruwiki", "ru.wikipedia.org"),
    ("itwiki", "it.wikipedia.org"),
    ("commonswiki", "commons.wikimedia.org"),
    ("wikidatawiki", "www.wikidata.org"),
    ("metawiki", "meta.wikimedia.org"),
    ("enwiktionary", "en.wiktionary.org"),
)
RECV_HOSTS = (
    "cp1075.eqiad.wmnet",
    "cp1087.eqiad.wmnet",
    "cp2027.codfw.wmnet",
    "cp3050.esams.wmnet",
    "cp4021.ulsfo.wmnet",
    "cp5012.eqsin.wmnet",
)
# Schemas with more traffic than the rest, as in production.
WEIGHTS = {
    "NavigationTiming": 8,
    "VirtualPageView": 8,
    "SearchSatisfaction": 6,
    "EditAttemptStep": 5,
    "DesktopWebUIActionsTracking": 4,
    "MobileWebUIActionsTracking": 4,
    "CentralNoticeImpression": 4,
    "PaintTiming": 3,
    "FirstInputDelay": 3,
    "SaveTiming": 2,
}

INVALID_KINDS = (
    "wrong-type",
    "bad-enum",
    "missing-required",
    "extra-property",
    "out-of-range",
    "unknown-schema",
    "malformed-json",
    "missing-wiki",
)
# Lines of a schema no event can satisfy (UniversalLanguageSelector requires ``token`` but does
# not declare it, and EventLogging forbids undeclared top-level fields): always invalid.
CONTRADICTORY = "contradictory-schema"


# ---- lines --------------------------------------------------------------------------------------


class Generator:
    """The state behind ``generate``: random source, schema pools, clocks and sequence ids."""

    def __init__(
        self,
        seed: int = 1,
        invalid_share: float = 0.10,
        fmt: str = "json",
        events: str = "small",
        schemas: Sequence[str] = (),
    ) -> None:
        """``schemas``: only these (all bundled ones when empty)."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        if events not in EVENTS:
            raise ValueError(f"events must be one of {EVENTS}, got {events!r}")
        if not 0.0 <= invalid_share <= 1.0:
            raise ValueError(f"invalid_share must be within 0..1, got {invalid_share}")
        self.rng = random.Random(seed)
        self.fmt = fmt
        self.models = [m for m in load_models() if not schemas or m.name in schemas]
        if not self.models:
            raise ValueError(f"no bundled schema named {', '.join(schemas)}")
        self.real = RealBodies() if events == "real" else None
        weights = [WEIGHTS.get(m.name, 1) for m in self.models]
        # Contradictory schemas' lines are invalid anyway: count them against the share.
        doomed = sum(w for m, w in zip(self.models, weights, strict=True) if not m.satisfiable)
        doomed /= sum(weights)
        self.mutate_share = max(0.0, (invalid_share - doomed) / (1.0 - doomed))
        total = 0
        self._cumulative = []
        for weight in weights:
            total += weight
            self._cumulative.append(total)
        # Varnish sequence counters are large and differ per stream: start each at random, so
        # two corpora with different seeds never produce the same derived uuid.
        self._seq = {host: self.rng.randrange(10**9) for host in RECV_HOSTS}
        self._count = 0
        self._stamp_at, self._stamp_text = -1, ""

    def _stamp(self, seconds: int, fmt: str) -> str:
        if seconds != self._stamp_at:
            self._stamp_at, self._stamp_text = seconds, time.strftime(fmt, time.gmtime(seconds))
        return self._stamp_text

    def lines(self, n: int) -> Iterator[tuple[bytes, str | None]]:
        """``n`` lines, each with None (valid) or the kind of invalidity it carries."""
        for _ in range(n):
            yield self.line()

    def line(self) -> tuple[bytes, str | None]:
        rng = self.rng
        model = rng.choices(self.models, cum_weights=self._cumulative)[0]
        event = event_body(model, rng) if self.real is None else self.real.body(model, rng)
        kind = rng.choice(INVALID_KINDS) if rng.random() < self.mutate_share else None
        if kind is None and not model.satisfiable:
            kind = CONTRADICTORY
        if kind in EVENT_MUTATIONS:
            event = copy.deepcopy(event)
            EVENT_MUTATIONS[kind](model, event, rng)
        seconds = START + self._count // EVENTS_PER_SECOND
        self._count += 1
        wiki, host = rng.choice(WIKIS)
        if rng.random() < 0.3 and host.endswith(".wikipedia.org"):
            host = host.replace(".wikipedia.org", ".m.wikipedia.org")
        capsule = {"schema": model.name, "revision": model.revision, "wiki": wiki}
        if kind == "unknown-schema":
            if rng.random() < 0.5:
                capsule["schema"] = rng.choice(("NoSuchSchema", "LegacyTiming", "Test_Old"))
            else:
                capsule["revision"] = "0.0.1"
        elif kind == "missing-wiki":
            del capsule["wiki"]
        capsule["webHost"] = host
        recv_from = rng.choice(RECV_HOSTS)
        self._seq[recv_from] += 1
        seq_id = self._seq[recv_from]
        if self.fmt == "raw":
            capsule["event"] = event
            data = orjson.dumps(capsule)
            if kind == "malformed-json":
                data = malformed(data, rng)
            stamp = self._stamp(seconds, "%Y-%m-%dT%H:%M:%S")
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            text = (
                f"?{quote_plus(data)}; {recv_from} {seq_id} {stamp} {ip} {rng.choice(USER_AGENTS)}"
            )
            return text.encode(), kind
        if rng.random() < 0.25:
            capsule["timestamp"] = self._stamp(seconds, "%Y-%m-%dT%H:%M:%S") + "Z"
        else:
            capsule["timestamp"] = seconds
        if rng.random() < 0.5:
            capsule["uuid"] = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        else:
            capsule["recvFrom"] = recv_from
            capsule["seqId"] = seq_id
        if self.real is not None:  # as varnish saw it: a browser's full User-Agent header
            capsule["userAgent"] = rng.choice(USER_AGENTS)
        capsule["event"] = event
        data = orjson.dumps(capsule)
        if kind == "malformed-json":
            data = malformed(data, rng)
        return data, kind


def generate(
    n: int, seed: int = 1, invalid_share: float = 0.10, fmt: str = "json", events: str = "small"
) -> Iterator[bytes]:
    """``n`` lines of traffic (no trailing newline): ``fmt`` is ``json`` (one capsule per
    line) or ``raw`` (EventLogging varnish client lines, ``RAW_FORMAT``)."""
    for line, _ in Generator(seed, invalid_share, fmt, events).lines(n):
        yield line


# ---- self-check ---------------------------------------------------------------------------------


def check(labelled: Sequence[tuple[bytes, str | None]], fmt: str) -> Counter:
    """Run every line through the project's parser and registry; raise if a line labelled
    valid fails or one labelled invalid passes.  Returns the count of lines per label."""
    from el_monitor.event.capsule import CapsuleError
    from el_monitor.event.formats import ParseError, make_parser
    from el_monitor.schema.registry import DirectoryRegistry

    registry = DirectoryRegistry(SCHEMAS)
    parse = make_parser("json" if fmt == "json" else RAW_FORMAT, "corpus-check")
    labels: Counter = Counter()
    for number, (line, kind) in enumerate(labelled, 1):
        labels[kind or "valid"] += 1
        problem = None
        try:
            capsule = parse(line, None)
            compiled = registry.get(capsule["schema"], capsule["revision"])
            if compiled is None:
                problem = "unknown schema"
            else:
                failure = compiled.validate(capsule["event"])
                problem = None if failure is None else failure.message
        except (ParseError, CapsuleError) as exc:
            problem = str(exc)
        if kind is None and problem is not None:
            raise AssertionError(f"line {number} should be valid but {problem}: {line[:300]!r}")
        if kind is not None and problem is None:
            raise AssertionError(f"line {number} ({kind}) should be invalid: {line[:300]!r}")
    return labels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, required=True, help="number of lines")
    parser.add_argument("--format", choices=FORMATS, default="json")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--invalid-share", type=float, default=0.10, metavar="F")
    parser.add_argument(
        "--events", choices=EVENTS, default="small", help="small examples or real-size events"
    )
    parser.add_argument(
        "--schema", action="append", default=[], help="only this schema (repeatable)"
    )
    parser.add_argument("--out", default="-", help="output file (default: stdout)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate every line with el_monitor and report the mix on stderr",
    )
    args = parser.parse_args(argv)
    try:
        gen = Generator(args.seed, args.invalid_share, args.format, args.events, args.schema)
    except ValueError as exc:
        parser.error(str(exc))
    labelled = [] if args.check else None
    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")  # noqa: SIM115
    try:
        for line, kind in gen.lines(args.count):
            out.write(line + b"\n")
            if labelled is not None:
                labelled.append((line, kind))
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    if labelled is not None:
        labels = check(labelled, args.format)
        mix = ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))
        print(f"corpus: {args.count} lines checked: {mix}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
