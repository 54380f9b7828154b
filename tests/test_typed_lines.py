"""Typed decoding of whole lines (``el_monitor.ingest.typed_lines``) changes nothing but speed.

Every line goes through the forwarder's pipeline twice, with and without typed decoding, on
both stores' empty values, as a JSON line and as varnish logs it: each gives the same
verdict (code, message, path), the same capsule (as JSON) and the same row.  The lines are
every shared example with its mutations, each sent twice in a row (the second is decoded
typed when the first was valid), and capsules probing what a typed decoder reads
differently from orjson: nulls, big and float-valued integers, duplicate and unknown keys,
over-long strings, escapes, keys in another order, an event naming another schema.
"""

from __future__ import annotations

import json
import math
import random
from urllib.parse import quote_plus

import orjson
import pytest
from helpers import example_capsules
from owners.test_validate import VARNISH, varnish_line
from test_row_struct import same
from test_validator_agreement import mutations

from el_monitor.counts.counters import Counters
from el_monitor.errors import EventError
from el_monitor.event.formats import JSON_FORMAT, make_parser
from el_monitor.event.jsontext import capsule_json
from el_monitor.ingest.pipeline import Pipeline
from el_monitor.ingest.policy import Policy
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.typed_lines import BYTES_PER_FIELD, TypedLines, event_row
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store.mapping import (
    CAPSULE_COLUMNS,
    VARCHAR_LIMIT,
    EventRow,
    StoreError,
    TableLayout,
    event_columns,
)

# Lines without a timestamp would take the clock's, which may differ between the two runs.
TIMESTAMP = 1_800_000_000
EMPTIES = pytest.mark.parametrize("empty", [None, math.nan], ids=["mysql", "sqlite"])
FORMATS = pytest.mark.parametrize("fmt", [JSON_FORMAT, VARNISH], ids=["json", "varnish"])


class Run:
    """The pipeline over ``lines``, one chunk each, typed or not: what it accepted or refused."""

    def __init__(
        self,
        registry,
        empty: object,
        typed: bool,
        policy: Policy | None = None,
        fmt: str = JSON_FORMAT,
    ):
        # Every line tried typed, however short (the examples' events are).
        self.typed = TypedLines(empty, bytes_per_field=0, shortest=0) if typed else None
        parse = make_parser(fmt, "test-host", typed=self.typed and self.typed.decode)
        self.outcomes: list[dict | EventError] = []
        self.pipeline = Pipeline(
            parse,
            registry,
            Counters(),
            self.outcomes.append,
            self.outcomes.append,
            policy=policy,
            typed=self.typed,
        )

    def feed(self, lines: list[bytes]) -> list[dict | EventError]:
        for line in lines:
            self.pipeline.process(Chunk([line], None))
        return self.outcomes

    def typed_events(self) -> int:
        return sum(isinstance(o, dict) and isinstance(o["event"], EventRow) for o in self.outcomes)


def row_or_error(layout: TableLayout, capsule: dict) -> object:
    try:
        return layout.row(capsule)
    except StoreError as exc:
        return str(exc)


def assert_same(registry, empty: object, lines: list[bytes], fmt: str) -> Run:
    """The typed run gives what the plain one does, line for line (JSON lines, or each as
    varnish logs it); returns the typed run."""
    if fmt != JSON_FORMAT:
        lines = [varnish_line(line, seq) for seq, line in enumerate(lines)]
    plain = Run(registry, empty, False, fmt=fmt)
    typed = Run(registry, empty, True, fmt=fmt)
    expected, got = plain.feed(lines), typed.feed(lines)
    assert len(expected) == len(got) == len(lines)
    layouts: dict[tuple[str, str], TableLayout] = {}
    for line, want, have in zip(lines, expected, got, strict=True):
        if isinstance(want, EventError):
            assert have == want, line
            continue
        assert isinstance(have, dict), (line, have)
        assert orjson.loads(capsule_json(have)) == orjson.loads(capsule_json(want)), line
        key = (want["schema"], want["revision"])
        if key not in layouts:
            schema = registry.get(*key).schema
            columns = [*CAPSULE_COLUMNS, *event_columns(schema)]
            layouts[key] = TableLayout("t", columns, empty)
        a, b = row_or_error(layouts[key], have), row_or_error(layouts[key], want)
        assert a == b if isinstance(a, str) else same(a, b), line
    return typed


def lines_twice(capsules: list[dict]) -> list[bytes]:
    out = []
    for capsule in capsules:
        line = json.dumps(capsule, ensure_ascii=False).encode()
        out += [line, line]
    return out


@EMPTIES
@FORMATS
def test_examples_and_their_mutations_give_the_same_outcomes(registry, empty, fmt):
    rng = random.Random(20261206)
    capsules = []
    for example in example_capsules():
        schema = registry.get(example["schema"], str(example["revision"])).schema
        for event in mutations(rng, schema, example["event"]):
            capsule = {"timestamp": TIMESTAMP, **example, "seqId": len(capsules)}
            capsules.append({**capsule, "event": event})
    typed = assert_same(registry, empty, lines_twice(capsules), fmt)
    # Most valid lines followed a valid line of their schema: they were decoded typed.
    valid = sum(isinstance(o, dict) for o in typed.outcomes)
    assert typed.typed_events() > valid // 3


def navigation(**event: object) -> dict:
    example = next(c for c in example_capsules() if c["schema"] == "NavigationTiming")
    return {"timestamp": TIMESTAMP, **example, "event": {**example["event"], **event}}


PROBES = [
    navigation(),
    {**navigation(), "revision": int(navigation()["revision"])}
    if str(navigation()["revision"]).isdigit()
    else navigation(),
    {**navigation(), "webHost": None},
    {**navigation(), "recvFrom": None},
    {**navigation(), "seqId": None},
    {**navigation(), "seqId": 1.5},
    {**navigation(), "seqId": 2**64},
    {**navigation(), "seqId": "12"},
    {**navigation(), "timestamp": 2**64},
    {**navigation(), "timestamp": 1.8e9},
    {**navigation(), "timestamp": "2026-12-06T05:00:00Z"},
    {**navigation(), "uuid": "00000000-0000-5000-8000-00000000ABCD"},
    {**navigation(), "uuid": None},
    {**navigation(), "topic": 3},
    {**navigation(), "unexpected": 1},
    navigation(responseStart=None),
    navigation(responseStart=2**63),
    navigation(responseStart=2**64),
    navigation(responseStart=-(2**63) - 1),
    navigation(responseStart=3.0),
    navigation(responseStart=True),
    navigation(responseStart="3"),
    navigation(mediaWikiVersion="x" * VARCHAR_LIMIT),
    navigation(mediaWikiVersion="x" * (VARCHAR_LIMIT + 1)),
    navigation(mediaWikiVersion="<script>'; DROP TABLE t; --\t\\N\n\u2028😀"),
    navigation(unexpectedField="x"),
]
RAW_PROBES = [
    b'{"schema":"NavigationTiming","schema":"Other",',  # truncated
    b'{"a":"\\ud800"}',
    b'{"event":{"isAnon":true},"event":{"isAnon":"no"}}',
]


@EMPTIES
@FORMATS
def test_capsules_probing_the_decoder_give_the_same_outcomes(registry, empty, fmt):
    lines = []
    for probe in PROBES:  # each after a valid line of its schema: the typed decoder is tried
        lines += [json.dumps(navigation()).encode(), json.dumps(probe).encode()]
    base = json.dumps(navigation()).encode()
    for raw in RAW_PROBES:
        lines += [base, raw, base[:-2] + b"," + raw[1:]]
    duplicate = base[:-1] + b',"wiki":"dewiki"}'
    capsule = navigation()
    event_first = {"event": capsule["event"], **capsule}  # as EventLogging's client sends it
    lines += [base, json.dumps(event_first, separators=(",", ":")).encode()]
    decoy = {**capsule, "event": {"schema": "Edit", "revision": 1, **capsule["event"]}}
    lines += [base, json.dumps(decoy).encode()]
    named_twice = b'{"schema":"Edit","revision":"1",' + base[1:]  # orjson reads the last
    lines += [base, named_twice, base, b'{"schema":"Edit",' + base[1:]]
    lines += [base, duplicate, base, base.replace(b'"event":{', b'"event":{"isAnon":1,', 1)]
    typed = assert_same(registry, empty, lines, fmt)
    assert typed.typed_events() >= len(PROBES)


@EMPTIES
def test_a_format_naming_the_schema_in_a_field_of_its_own_gives_the_same_outcomes(registry, empty):
    """The field replaces the schema the capsule's JSON names: its event is checked against
    the schema the field names, never taken as decoded for the other."""
    fmt = "%q %{schema}s"
    capsule = navigation()
    query = "?" + quote_plus(json.dumps(capsule)) + ";"
    lines = [f"{query} {name}".encode() for name in ("NavigationTiming", "HomepageModule") * 2]
    plain = Run(registry, empty, False, fmt=fmt).feed(lines)
    typed = Run(registry, empty, True, fmt=fmt)
    assert typed.feed(lines) == plain
    assert isinstance(plain[1], EventError) and plain[1].schema == "HomepageModule"
    assert typed.typed_events() == 0


def test_a_format_putting_a_number_in_a_string_field_gives_the_same_outcomes(registry):
    """``%{webHost}d`` adds an int where the capsule wants a string: checked as ever, typed
    capsule or not (no line of it is ever valid: its schema is made typed by hand)."""
    fmt = "%q %{webHost}d"
    capsule = navigation()
    query = "?" + quote_plus(json.dumps(capsule)) + ";"
    lines = [f"{query} 7".encode()] * 3
    plain = Run(registry, None, False, fmt=fmt).feed(lines)
    typed = Run(registry, None, True, fmt=fmt)
    key = (capsule["schema"], capsule["revision"])
    assert typed.typed is not None
    typed.typed.learn(key, registry.get(*key).schema)
    assert typed.feed(lines) == plain
    assert all(isinstance(o, EventError) and o.path == "capsule.webHost" for o in plain)


def test_integer_revisions_one_the_start_of_another_are_both_decoded_typed(tmp_path):
    """Legacy revisions are integers, written unquoted: revision 12's lines never take
    revision 123's decoder, whose schema wants a number where 12's wants a string."""
    for revision, kind in (("12", "string"), ("123", "integer")):
        schema = {"type": "object", "properties": {"a": {"type": kind}}, "required": ["a"]}
        (tmp_path / "Legacy").mkdir(exist_ok=True)
        (tmp_path / "Legacy" / f"{revision}.json").write_text(json.dumps(schema))
    registry = DirectoryRegistry(tmp_path)
    line = '{{"schema":"Legacy","revision":{},"wiki":"enwiki","timestamp":{},"event":{{"a":{}}}}}'
    lines = [
        line.format(revision, TIMESTAMP, value).encode()
        for revision, value in [(12, '"x"'), (12, '"y"'), (123, "1"), (123, "2"), (12, "3")] * 2
    ]
    typed = assert_same(registry, math.nan, lines, JSON_FORMAT)
    assert typed.typed_events() >= 4


def test_an_opt_out_checked_schema_is_never_decoded_typed(registry):
    """(Nor a sampled one: the pipeline asks for both the same way.)  The check reads the
    event as a dict, as it always did."""
    line = json.dumps(navigation()).encode()
    seen: list[object] = []
    checked = Policy(opt_out_check_for=lambda schema: lambda c: seen.append(c["event"]))
    run = Run(registry, None, True, policy=checked)
    run.feed([line] * 5)
    assert len(run.outcomes) == 5 and run.typed_events() == 0
    assert len(seen) == 5 and all(type(event) is dict for event in seen)
    unchecked = Run(registry, None, True)
    unchecked.feed([line] * 3)
    assert unchecked.typed_events() == 2
    unchecked.pipeline.set_policy(checked)  # a reload that checks it: typed no longer
    unchecked.feed([line] * 3)
    assert unchecked.typed_events() == 2 and len(seen) == 8


def test_a_typed_event_fills_only_a_table_of_its_columns_and_empty_value(registry):
    example = navigation()
    schema = registry.get(example["schema"], example["revision"]).schema
    row_type = event_row(schema, math.nan)
    assert row_type is not None
    typed = Run(registry, math.nan, True)
    typed.feed([json.dumps(example).encode()] * 2)
    capsule = typed.outcomes[1]
    assert isinstance(capsule["event"], EventRow)
    assert type(capsule["event"]).columns == row_type.columns
    columns = [*CAPSULE_COLUMNS, *event_columns(schema)]
    for layout in (
        TableLayout("t", columns, math.nan),  # its own: astuple
        TableLayout("t", columns, None),  # another store's empty value: placed again
        TableLayout("t", [*CAPSULE_COLUMNS, *reversed(event_columns(schema))], math.nan),
    ):
        assert same(layout.row(capsule), layout.row({**capsule, "event": example["event"]}))


def test_a_line_short_for_its_schema_goes_the_usual_way(registry):
    """A few fields of a wide schema decode faster into a dict: by default a line needs
    ``BYTES_PER_FIELD`` bytes for each field of its schema to be decoded typed."""
    capsule = navigation()
    key = (capsule["schema"], capsule["revision"])
    schema = registry.get(*key).schema
    typed = TypedLines(None)
    typed.learn(key, schema)
    short = json.dumps(capsule).encode()
    fields = len(schema["properties"])
    assert len(short) < BYTES_PER_FIELD * fields
    assert typed.decode(short) is None
    padded = {**capsule, "userAgent": "x" * (BYTES_PER_FIELD * fields)}
    assert isinstance(typed.decode(json.dumps(padded).encode())["event"], EventRow)


def test_retargeting_to_another_kind_of_store_makes_new_decoders(registry):
    typed = TypedLines(None, bytes_per_field=0, shortest=0)
    schema = registry.get(navigation()["schema"], navigation()["revision"]).schema
    key = (navigation()["schema"], navigation()["revision"])
    typed.learn(key, schema)
    event = typed.decode(json.dumps(navigation()).encode())["event"]
    assert event.__class__.empty is None
    typed.retarget(math.nan)
    assert typed.decode(json.dumps(navigation()).encode()) is None  # told nothing yet
    typed.learn(key, schema)
    event = typed.decode(json.dumps(navigation()).encode())["event"]
    assert event.__class__.empty is math.nan
