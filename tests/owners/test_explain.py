"""``schema.explain`` on its own: paths written and read back as the compiled validator writes
them, descriptions found through items and patternProperties, and without jsonschema the
compiled validator's one error."""

from __future__ import annotations

import sys

import pytest

from el_monitor.schema.compiled import compile_schema
from el_monitor.schema.explain import describe, explain, path_of, shorten, steps_of

SCHEMA = {
    "type": "object",
    "properties": {
        "list": {"type": "array", "items": {"type": "integer", "description": "a number"}},
        "odd key": {"type": "string", "description": "spaced"},
    },
    "patternProperties": {"^x_": {"type": "boolean", "description": "an x flag"}},
    "additionalProperties": False,
}


@pytest.mark.parametrize("steps", [[], ["list", 2], ["odd key"], ["it's", 0, "a"]])
def test_paths_round_trip(steps):
    assert steps_of(path_of(steps)) == steps


def test_descriptions_through_items_and_patterns():
    assert describe(SCHEMA, ["list", 5]) == "a number"
    assert describe(SCHEMA, ["odd key"]) == "spaced"
    assert describe(SCHEMA, ["x_seen"]) == "an x flag"
    assert describe(SCHEMA, ["nothing"]) is None


def test_values_are_shortened():
    assert shorten("a" * 100).endswith("…") and len(shorten("a" * 100)) == 60


def test_the_compiled_error_is_listed_even_without_jsonschema(monkeypatch):
    compiled = compile_schema("Demo", "1", SCHEMA)
    event = {"list": [1, "two"], "odd key": 3, "x_seen": "no"}
    first = compiled.validate(event)
    assert first is not None
    everything = explain(compiled, event, first)
    assert {p.path for p in everything} == {"$.list[1]", "$['odd key']", "$.x_seen"}
    assert first.path in {p.path for p in everything}

    monkeypatch.setitem(sys.modules, "jsonschema", None)  # import fails: not installed
    (only,) = explain(compiled, event, first)
    assert (only.path, only.message) == (first.path, first.message)
    assert only.description == describe(SCHEMA, steps_of(first.path))
    assert only.description is not None
