"""Deterministic synthetic EventLogging traffic, built from the bundled samples and schemas.

Benchmarks and the demo need realistic input that is the same on every run: every schema of
``examples/schemas`` in use, events that vary the way real ones do (yet stay valid against their
schema, which is checked), and a known share of the invalid lines a real forwarder sees.  The
same seed always gives the same bytes, and a shorter run is a prefix of a longer one.

Usage::

    python benchmarks/corpus.py --count 3000 --format json --seed 1 --out events.jsonl
    python benchmarks/corpus.py --count 2000 --format raw --seed 2 --out client.log
"""

from __future__ import annotations

import argparse
import calendar
import copy
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

import orjson

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "samples"
SCHEMAS = ROOT / "examples" / "schemas"

RAW_FORMAT = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"
FORMATS = ("json", "raw")
START = calendar.timegm((2026, 11, 28, 5, 0, 0))  # 2026-11-28T05:00:00Z
EVENTS_PER_SECOND = 200  # how fast the synthetic clock advances
POOL = 128  # distinct event bodies kept per schema: variety without paying to build each line

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
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.39 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
)
# Free-text values, picked by what the property's name suggests; some are non-ASCII so the
# encoders and utf8mb4 columns are exercised.
TITLES = (
    "Main_Page",
    "Special:Search",
    "Albert_Einstein",
    "Köln",
    "東京都",
    "Москва",
    "São_Paulo",
    "Help:Editing",
    "Wikipedia:Village_pump",
    "List_of_sovereign_states",
)
LANGUAGES = ("en", "de", "fr", "es", "ja", "ru", "it", "zh", "pt", "ar", "he", "hi")
WORDS = ("click", "view", "submit", "default", "mobile", "desktop", "control", "test-a", "init")
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
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"
_HEX = "0123456789abcdef"
_UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_TOKEN_PATTERN = "^[0-9a-z]{20}$"

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


class _Skip(Exception):
    """No value can be generated for this property (unknown pattern, no type)."""


@dataclass
class _Model:
    """One schema revision: its JSON Schema, its example events and the variants made so far."""

    name: str
    revision: str
    schema: dict
    samples: list[dict]
    pool: list[dict] = field(default_factory=list)

    @property
    def properties(self) -> dict:
        return self.schema.get("properties", {})

    @property
    def satisfiable(self) -> bool:
        """False when the schema requires a field that it does not allow."""
        if self.schema.get("additionalProperties", False) is not False:
            return True
        return set(self.schema.get("required", ())) <= set(self.properties)


def load_models(samples: Path = SAMPLES, schemas: Path = SCHEMAS) -> list[_Model]:
    """Every schema that has both a sample and a schema file, sorted by name."""
    models = []
    for path in sorted(samples.glob("*.jsonl")):
        capsules = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        if not capsules:
            continue
        revision = str(capsules[0]["revision"])
        schema_file = schemas / capsules[0]["schema"] / f"{revision}.json"
        if not schema_file.is_file():
            continue
        schema = orjson.loads(schema_file.read_bytes())
        events = [
            _conforming(c["event"], schema) for c in capsules if str(c["revision"]) == revision
        ]
        models.append(_Model(capsules[0]["schema"], revision, schema, events))
    if not models:
        raise SystemExit(f"corpus: no samples with schemas under {samples} and {schemas}")
    return models


def _conforming(event: dict, schema: dict) -> dict:
    """The example without fields its schema neither declares nor requires: a few published
    examples carry fields (``wiki``) that ``additionalProperties: false`` refuses."""
    if schema.get("additionalProperties", False) is not False:
        return event
    known = set(schema.get("properties", {})) | set(schema.get("required", ()))
    return {key: value for key, value in event.items() if key in known}


# ---- valid values -------------------------------------------------------------------------------


def _value(
    spec: dict, rng: random.Random, sample: object = None, has_sample: bool = False, key: str = ""
):
    """A value valid against ``spec`` for the property ``key``, often near the example's."""
    if "enum" in spec:
        return rng.choice(spec["enum"])
    kind = spec.get("type")
    if kind == "string":
        return _string(spec, rng, sample if has_sample else None, key.lower())
    if kind == "integer":
        if "timestamp" in key.lower():  # milliseconds around the corpus's clock
            return _integer(spec, rng, START * 1000 + rng.randrange(3_600_000), exact=True)
        return _integer(spec, rng, sample if type(sample) is int else 100)
    if kind == "number":
        low, high = _bounds(spec, sample if type(sample) in (int, float) else 1000)
        return round(rng.uniform(low, high), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        items = spec.get("items")
        if not isinstance(items, dict):
            raise _Skip
        return [_value(items, rng) for _ in range(rng.randint(0, 3))]
    if kind == "object":
        return _object(spec, rng, sample if type(sample) is dict else None)
    if has_sample:
        return sample
    raise _Skip


def _string(spec: dict, rng: random.Random, sample: str | None, key: str) -> str:
    pattern = spec.get("pattern")
    if pattern == _UUID_PATTERN:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if pattern == _TOKEN_PATTERN:
        return "".join(rng.choices(_ALNUM, k=20))
    if pattern is not None:
        if sample is None:
            raise _Skip
        return sample  # an unknown pattern: the example is the only value known to match
    low, high = spec.get("minLength", 0), spec.get("maxLength")
    if "token" in key or key.endswith("id"):  # a fresh token, as long as the example's
        text = "".join(rng.choices(_HEX, k=len(sample) if sample and len(sample) >= 10 else 20))
    elif "language" in key:
        text = rng.choice(LANGUAGES)
    elif "title" in key:
        text = rng.choice(TITLES)
    elif key.endswith("url"):
        text = "https://en.wikipedia.org/wiki/" + quote_plus(rng.choice(TITLES))
    elif sample is not None and rng.random() < 0.6:
        text = sample
    else:
        text = rng.choice(WORDS)
    if len(text) < low:
        text += "".join(rng.choices(_ALNUM, k=low - len(text)))
    return text if high is None else text[:high]


def _bounds(spec: dict, base: float) -> tuple[float, float]:
    """A realistic range around the example's value, inside the schema's bounds."""
    low = spec.get("minimum")
    high = spec.get("maximum")
    start = 0 if low is None or low <= 0 else low
    end = max(start + 10, 3 * abs(base) + 10)
    if high is not None:
        end = min(end, high)
    return start, max(start, end)


def _integer(spec: dict, rng: random.Random, base: int, exact: bool = False) -> int:
    low, high = _bounds(spec, base)
    if exact and low <= base <= high:
        return base
    return rng.randint(int(low), int(high))


def _object(spec: dict, rng: random.Random, sample: dict | None) -> dict:
    properties = spec.get("properties")
    if not properties:
        extra = spec.get("additionalProperties")
        if isinstance(extra, dict):  # a free-form map of typed values
            return {rng.choice(TITLES): _value(extra, rng) for _ in range(rng.randint(1, 2))}
        if sample is not None:
            return copy.deepcopy(sample)
        raise _Skip
    sample = sample or {}
    out = {}
    required = set(spec.get("required", ()))
    for key, sub in properties.items():
        if key in sample or key in required or rng.random() < 0.3:
            try:
                out[key] = _value(sub, rng, sample.get(key), key in sample, key)
            except _Skip:
                if key in sample:
                    out[key] = sample[key]
    return out


def _vary(model: _Model, rng: random.Random) -> dict:
    """A new valid event: the example's fields varied, plus up to two optional ones."""
    sample = rng.choice(model.samples)
    event = {}
    properties = model.properties
    for key, value in sample.items():
        spec = properties.get(key)
        try:
            event[key] = value if spec is None else _value(spec, rng, value, True, key)
        except _Skip:
            event[key] = value
    absent = [key for key in properties if key not in event]
    for key in rng.sample(absent, min(len(absent), rng.randint(0, 2))):
        with suppress(_Skip):
            event[key] = _value(properties[key], rng, key=key)
    return event


def _event(model: _Model, rng: random.Random) -> dict:
    """An event body from the schema's pool (grown on first use, so a prefix stays a prefix)."""
    if len(model.pool) < POOL:
        event = _vary(model, rng)
        model.pool.append(event)
        return event
    return model.pool[rng.randrange(POOL)]


# ---- invalid events -----------------------------------------------------------------------------

_WRONG = {"string": 12345, "integer": "12", "number": "1.5", "boolean": "true"}


def _wrong_type(model: _Model, event: dict, rng: random.Random) -> None:
    keys = [k for k in event if k in model.properties]
    if not keys:
        event["__extra"] = 1
        return
    key = rng.choice(keys)
    event[key] = _WRONG.get(model.properties[key].get("type"), "not-an-object")


def _bad_enum(model: _Model, event: dict, rng: random.Random) -> None:
    keys = sorted(k for k, spec in model.properties.items() if "enum" in spec)
    if not keys:
        return _wrong_type(model, event, rng)
    key = rng.choice(keys)
    spec = model.properties[key]
    event[key] = 48 if spec.get("type") == "integer" else "not-in-" + key


def _missing_required(model: _Model, event: dict, rng: random.Random) -> None:
    keys = [k for k in model.schema.get("required", ()) if k in event]
    if not keys:
        return _wrong_type(model, event, rng)
    del event[rng.choice(keys)]


def _out_of_range(model: _Model, event: dict, rng: random.Random) -> None:
    keys = sorted(
        k
        for k, spec in model.properties.items()
        if spec.get("type") in ("integer", "number") and ("maximum" in spec or "minimum" in spec)
    )
    if not keys:
        return _wrong_type(model, event, rng)
    key = rng.choice(keys)
    spec = model.properties[key]
    if "maximum" in spec:
        event[key] = spec["maximum"] + 1 if spec["type"] == "integer" else spec["maximum"] * 2.0
    else:
        event[key] = spec["minimum"] - 1 if spec["type"] == "integer" else spec["minimum"] * 2.0


_EVENT_MUTATIONS = {
    "wrong-type": _wrong_type,
    "bad-enum": _bad_enum,
    "missing-required": _missing_required,
    "extra-property": lambda model, event, rng: event.__setitem__("unexpectedField", "surprise"),
    "out-of-range": _out_of_range,
}


def _malformed(data: bytes, rng: random.Random) -> bytes:
    """Truncated (a cut-off datagram) or mangled (a hand-written producer) JSON."""
    if rng.random() < 0.5:
        return data[: rng.randrange(1, len(data) - 1)]
    return data.replace(b'"', b"'", 2)


# ---- lines --------------------------------------------------------------------------------------


class Generator:
    """The state behind ``generate``: random source, schema pools, clocks and sequence ids."""

    def __init__(self, seed: int = 1, invalid_share: float = 0.10, fmt: str = "json") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        if not 0.0 <= invalid_share <= 1.0:
            raise ValueError(f"invalid_share must be within 0..1, got {invalid_share}")
        self.rng = random.Random(seed)
        self.fmt = fmt
        self.models = load_models()
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
        event = _event(model, rng)
        kind = rng.choice(INVALID_KINDS) if rng.random() < self.mutate_share else None
        if kind is None and not model.satisfiable:
            kind = CONTRADICTORY
        if kind in _EVENT_MUTATIONS:
            event = copy.deepcopy(event)
            _EVENT_MUTATIONS[kind](model, event, rng)
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
                data = _malformed(data, rng)
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
        capsule["event"] = event
        data = orjson.dumps(capsule)
        if kind == "malformed-json":
            data = _malformed(data, rng)
        return data, kind


def generate(
    n: int, seed: int = 1, invalid_share: float = 0.10, fmt: str = "json"
) -> Iterator[bytes]:
    """``n`` lines of traffic (no trailing newline): ``fmt`` is ``json`` (one capsule per
    line) or ``raw`` (EventLogging varnish client lines, ``RAW_FORMAT``)."""
    for line, _ in Generator(seed, invalid_share, fmt).lines(n):
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
    parser.add_argument("--out", default="-", help="output file (default: stdout)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate every line with el_monitor and report the mix on stderr",
    )
    args = parser.parse_args(argv)
    gen = Generator(args.seed, args.invalid_share, args.format)
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
