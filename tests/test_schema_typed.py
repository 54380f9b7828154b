"""msgspec's first pass (``el_monitor.schema.typed``) may answer "valid" only where the schema
agrees, and answers for nearly every shared schema.

Every draft-07 keyword schema of the agreement tests is checked again as an event property
(the shape the first pass translates), against jsonschema, value for value; so is every
shared example and its mutations, through ``compile_schema`` (``test_validator_agreement``).
"""

from __future__ import annotations

import json
import random

import pytest
from test_validator_agreement import (
    EXAMPLES,
    KEYWORD_SCHEMAS,
    SCALARS,
    agree,
    shared_cases,
    targeted_values,
)

from el_monitor.schema.compiled import compile_schema
from el_monitor.schema.draft import effective_schema
from el_monitor.schema.runtime import ValidationFailure
from el_monitor.schema.typed import first_pass

jsonschema = pytest.importorskip("jsonschema")

REFUSED = ValidationFailure("$", "refused by the exact validator")


class Exact:
    """An exact validator that refuses everything and counts the events it was asked about:
    shows which events the first pass answered by itself."""

    def __init__(self) -> None:
        self.asked: list[object] = []

    def __call__(self, event: object) -> ValidationFailure | None:
        self.asked.append(event)
        return REFUSED


def event_schema(prop: object, **more: object) -> dict:
    return {
        "type": "object",
        "properties": {"a": prop, "b": {"type": "string"}},
        "additionalProperties": False,
        **more,
    }


def test_the_first_pass_answers_valid_events_alone_and_hands_on_the_rest():
    schema = event_schema({"type": "integer", "minimum": 0}, required=["a"])
    exact = Exact()
    validate = first_pass(schema, exact)
    assert validate({"a": 3, "b": "x"}) is None
    assert validate({"a": 0}) is None
    assert exact.asked == []
    refused = [{"a": -1}, {"a": "3"}, {"a": True}, {"b": "x"}, {"a": 1, "c": 2}, {"a": 3.0}, []]
    for event in refused:
        assert validate(event) is REFUSED
    assert exact.asked == refused


@pytest.mark.parametrize(
    "prop",
    [
        {"type": "number", "maximum": 2**53 + 1},  # a bound no float holds exactly
        {"type": "integer", "enum": [32, 64], "minimum": 0},  # enum beside another keyword
        {"enum": [True, "a"]},  # a bool in a Literal would also match 1
        {"type": "string", "enum": ["a", 1]},  # a member of a type the schema refuses
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "array", "items": [{"type": "string"}]},
        {"type": "string", "pattern": 3},
        {"minimum": 3},  # no type: the keyword applies to numbers only
        {"type": "integer", "multipleOf": 2},
    ],
    ids=lambda prop: json.dumps(prop),
)
def test_what_is_not_translated_exactly_gets_no_first_pass(prop):
    exact = Exact()
    assert first_pass(event_schema(prop), exact) is exact


def test_a_required_name_the_schema_does_not_allow_gets_no_first_pass():
    exact = Exact()
    schema = {"type": "object", "properties": {"a": {}}, "required": ["token"],
              "additionalProperties": False}  # fmt: skip
    assert first_pass(schema, exact) is exact
    open_schema = {**schema, "additionalProperties": True}
    validate = first_pass(open_schema, exact)
    assert validate({"token": [1, {"x": None}]}) is None
    assert validate({"a": 1}) is REFUSED


def test_nearly_every_shared_schema_gets_a_first_pass():
    exact = Exact()
    schemas = sorted((EXAMPLES / "schemas").glob("*/*.json"))
    translated = [
        path.parent.name
        for path in schemas
        if first_pass(effective_schema(json.loads(path.read_text())), exact) is not exact
    ]
    assert len(schemas) >= 55
    assert len(translated) >= len(schemas) - 3, sorted(
        {path.parent.name for path in schemas} - set(translated)
    )
    assert "NavigationTiming" in translated


def test_shared_examples_pass_the_first_pass_alone():
    exact = Exact()
    for name, raw, event in shared_cases():
        validate = first_pass(compile_schema(name, "1", raw).schema, exact)
        if validate is not exact:
            assert validate(event) is None, (name, event)
    assert exact.asked == []


# ($ref points from the root: those schemas cannot be moved under a property, nor translated.)
PROPERTIES = [schema for schema in KEYWORD_SCHEMAS if '"$ref"' not in json.dumps(schema)]
# Most keyword schemas name no type (so get no first pass): these do, to exercise each keyword.
TYPED = [
    {"type": "integer", "minimum": 2, "maximum": 5},
    {"type": "integer", "minimum": 2.5, "exclusiveMaximum": 7.5},
    {"type": "integer", "exclusiveMinimum": -(2**30), "exclusiveMaximum": 2**30},
    {"type": "number", "minimum": 2.5, "maximum": 2**53},
    {"type": "number", "exclusiveMinimum": 2, "exclusiveMaximum": 5.5},
    {"type": ["number", "null"], "exclusiveMaximum": 1e15, "exclusiveMinimum": -1e15},
    {"type": "string", "minLength": 2, "maxLength": 3},
    {"type": "string", "maxLength": 0},
    {"type": "string", "minLength": 2.0},
    {"type": "string", "pattern": "^a"},
    {"type": "string", "pattern": "[0-9]$"},
    {"type": "string", "pattern": "😀"},
    {"type": "array", "items": {"type": "integer"}},
    {"type": "array", "items": {"type": "string", "maxLength": 1}, "minItems": 1, "maxItems": 2},
    {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "integer"}}}},
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
     "required": ["a"]},
    {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
    {"type": "object", "required": ["odd key", "x/y"]},
    {"enum": ["a", 1, None]},
    {"type": ["integer", "null"], "enum": [1, 2, None]},
    {"type": "string", "enum": ["a", "ab", "foo"]},
]  # fmt: skip


def test_the_typed_keyword_schemas_get_a_first_pass():
    exact = Exact()
    assert [prop for prop in TYPED if first_pass(event_schema(prop), exact) is exact] == []


@pytest.mark.parametrize("prop", PROPERTIES + TYPED, ids=lambda s: json.dumps(s)[:60])
def test_keyword_as_a_property_agrees_with_draft7(prop):
    """Each keyword schema as an event property, through ``compile_schema``: the first pass
    (where it translates the schema) then the generated validator."""
    rng = random.Random(json.dumps(prop, sort_keys=True))
    raw = {"$schema": "http://json-schema.org/draft-07/schema#", **event_schema(prop)}
    compiled = compile_schema("Keyword", "1", raw)
    reference = jsonschema.Draft7Validator(compiled.schema)
    values = targeted_values(rng, prop) + SCALARS
    for value in values:
        for event in ({"a": value}, {"a": value, "b": "s"}, {"a": value, "b": 1}):
            assert agree(compiled.validate, reference, event), (event, compiled.validate(event))
    assert agree(compiled.validate, reference, {})
    assert agree(compiled.validate, reference, {"a": 1, "zz": 1})
