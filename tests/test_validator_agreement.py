"""Our compiled validators must give jsonschema's verdicts, case for case.

Cases are generated deterministically (seeded ``random.Random``): mutations of every shared
example event, random values against small schemas exercising each draft-07 keyword, and
draft 3/4/6 schemas checked against jsonschema's validator for their own draft.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from el_monitor.schema.compiled import compile_schema
from el_monitor.schema.draft import effective_schema
from el_monitor.schema.generator import compile_validator
from el_monitor.schema.runtime import path_step

jsonschema = pytest.importorskip("jsonschema")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"  # bundled copy of ../shared
D3 = "http://json-schema.org/draft-03/schema#"
D4 = "http://json-schema.org/draft-04/schema#"
D6 = "http://json-schema.org/draft-06/schema#"

KEYS = ["a", "b", "c", "d", "foo", "bar", "n", "x/y", "odd key"]
SCALARS = [
    None, True, False, 0, 1, -1, 2, 3, 4, 5, 6, 10, -7, 0.5, 2.5, 3.0, -0.0, 1e300, 5.5,
    2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, 10**40, -(10**40), 0.1, 0.30000000000000004,
    2**30 - 1, 2**30, -(2**30) + 1, -(2**30), 2.0**30, -9007199254740991,
    "", "a", "ab", "abc", "foo", "bar", "fo", "ünï", "😀😀", "x" * 70, "123", "a1",
]  # fmt: skip


def deep_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def random_value(rng: random.Random, depth: int = 0, scalars: list = SCALARS) -> object:
    roll = rng.random()
    if depth >= 3 or roll < 0.55:
        return rng.choice(scalars)
    if roll < 0.8:
        items = [random_value(rng, depth + 1, scalars) for _ in range(rng.randrange(4))]
        if items and rng.random() < 0.3:  # duplicates, for uniqueItems
            items.append(copy.deepcopy(rng.choice(items)))
        return items
    size = rng.randrange(4)
    return {rng.choice(KEYS): random_value(rng, depth + 1, scalars) for _ in range(size)}


def agree(ours, validator, instance) -> bool:
    """Same verdict, and the same path for the first error.

    Only the verdict is compared where jsonschema's first error is arbitrary or pathless: it
    visits additional properties in ``set`` order, and drops the path of errors raised by a
    ``false`` subschema (its ``descend`` returns before prepending it).
    """
    got = ours(instance)
    error = next(validator.iter_errors(instance), None)
    if got is None or error is None:
        return got is None and error is None
    if error.validator is None or "additionalProperties" in error.absolute_schema_path:
        return True
    path = "".join(
        f"[{step}]" if isinstance(step, int) else path_step(step) for step in error.absolute_path
    )
    return got.path == "$" + path


# --- the shared EventLogging schemas and mutated examples -----------------------------------


def shared_cases() -> list[tuple[str, dict, dict]]:
    cases = []
    for file in sorted((EXAMPLES / "samples").glob("*.jsonl")):
        for line in file.read_text().splitlines():
            capsule = json.loads(line)
            path = EXAMPLES / "schemas" / capsule["schema"] / f"{capsule['revision']}.json"
            raw = json.loads(path.read_text())
            cases.append((capsule["schema"], raw, capsule["event"]))
    return cases


def palette(rng: random.Random, schema: object) -> list:
    """Values likely to sit on the edges of ``schema``: wrong types, bounds, near-enum."""
    values = [rng.choice(SCALARS) for _ in range(3)]
    values += [None, True, 3.0, "x", [1], {"a": 1}, 10**30, deep_list(50)]
    if isinstance(schema, dict):
        for bound in ("minimum", "maximum"):
            if bound in schema:
                b = schema[bound]
                values += [b, b - 1, b + 1, b - 0.5, b + 0.5, float(b)]
        for member in schema.get("enum", [])[:3]:
            values += [member, member + "x" if isinstance(member, str) else member]
        if "items" in schema:
            values += [[rng.choice(SCALARS)], ["a", 1], [], [[]]]
        if schema.get("properties"):
            name = rng.choice(list(schema["properties"]))
            values += [{name: rng.choice(SCALARS)}, {}, {name: None, "zz": 1}]
    return values


def mutations(rng: random.Random, schema: dict, event: object, depth: int = 0):
    """Copies of ``event`` that each break (or probe) one thing."""
    yield event
    if not isinstance(event, dict) or not isinstance(schema, dict):
        return
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        yield {k: v for k, v in event.items() if k != name}
    yield {**event, "unexpectedField": 1}
    for name, sub in props.items():
        for value in rng.sample(palette(rng, sub), 5):
            yield {**event, name: value}
        if name in event and depth < 3:
            for nested in mutations(rng, sub, event[name], depth + 1):
                yield {**event, name: nested}
        if name in event and isinstance(event[name], list) and event[name]:
            items = list(event[name])
            items[rng.randrange(len(items))] = rng.choice([1, None, {"a": 1}, [], True])
            yield {**event, name: items}


def test_shared_examples_and_mutations_agree_with_draft7():
    rng = random.Random(20240601)
    total = disagreements = 0
    failures = []
    for name, raw, event in shared_cases():
        compiled = compile_schema(name, "test", raw)
        reference = jsonschema.Draft7Validator(compiled.schema)
        for case in mutations(rng, compiled.schema, event):
            total += 1
            if not agree(compiled.validate, reference, case):
                disagreements += 1
                failures.append((name, case, compiled.validate(case)))
    assert total > 3000
    assert not failures, f"{disagreements} of {total} disagree, e.g. {failures[:3]}"


# --- every draft-07 keyword, small schemas against random values -----------------------------

NODE = {
    "type": "object",
    "properties": {
        "n": {"type": "integer"},
        "c": {"type": "array", "items": {"$ref": "#/definitions/node"}},
    },
}
KEYWORD_SCHEMAS: list = [
    True,
    False,
    {},
    {"type": "integer"},
    {"type": "number"},
    {"type": "string"},
    {"type": "boolean"},
    {"type": "null"},
    {"type": "array"},
    {"type": "object"},
    {"type": ["string", "null"]},
    {"type": ["integer", "number"]},
    {"type": ["integer", "string"], "minimum": 3, "maxLength": 1},
    {"enum": ["a", "ab", "foo"]},
    {"enum": ["a", 1, None, True]},
    {"enum": [1.0, [1], {"a": 1}, [True]]},
    {"enum": [False, 0.5, "😀😀"]},
    {"enum": []},
    {"const": 1},
    {"const": True},
    {"const": "foo"},
    {"const": None},
    {"const": [1, "a"]},
    {"const": {"a": None}},
    {"minimum": 2, "maximum": 5},
    {"minimum": 2.5, "maximum": 2**53},
    {"exclusiveMinimum": 2, "exclusiveMaximum": 5.5},
    {"type": "integer", "minimum": 0, "maximum": 9007199254740991},
    # Bounds past one machine digit (checked behind a compare with 2**30 - 1), at and around it
    {"type": "number", "minimum": -9007199254740991, "maximum": 9007199254740991},
    {"exclusiveMinimum": -(2**30), "exclusiveMaximum": 2**30},
    {"minimum": -(2**30) + 1, "maximum": 2**30 - 1},
    {"exclusiveMaximum": 1e300, "exclusiveMinimum": -1e300},
    {"multipleOf": 2},
    {"multipleOf": 0.5},
    {"multipleOf": 0.1},
    {"multipleOf": 1e-5},
    {"type": "integer", "multipleOf": 3},
    {"minLength": 2, "maxLength": 3},
    {"maxLength": 0},
    {"minLength": 2.0},
    {"pattern": "^a"},
    {"pattern": "[0-9]$"},
    {"pattern": "😀"},
    {"format": "email"},
    {"items": {"type": "integer"}},
    {"items": [{"type": "string"}, {"type": "integer"}]},
    {"items": [{"type": "string"}], "additionalItems": False},
    {"items": [{}], "additionalItems": {"type": "boolean"}},
    {"items": {}, "additionalItems": False},
    {"additionalItems": False},
    {"items": False},
    {"minItems": 1, "maxItems": 2},
    {"uniqueItems": True},
    {"uniqueItems": False},
    {"contains": {"type": "string"}},
    {"contains": False},
    {"contains": True},
    {"properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["a"]},
    {"properties": {"a": {}}, "additionalProperties": False},
    {"additionalProperties": False},
    {"properties": {"a": False}},
    {"additionalProperties": {"type": "string"}},
    {"properties": {"a": {}}, "additionalProperties": {"type": "integer"}},
    {"patternProperties": {"^f": {"type": "string"}, "o$": {"minLength": 3}}},
    {"patternProperties": {"^f": {}, "^b": True}, "additionalProperties": False},
    {"properties": {"a": {}}, "patternProperties": {"^f": {}},
     "additionalProperties": {"enum": [1]}},
    {"propertyNames": {"maxLength": 1}},
    {"propertyNames": {"pattern": "^[a-c]$"}},
    {"propertyNames": False},
    {"minProperties": 1, "maxProperties": 2},
    {"required": ["odd key", "x/y"]},
    {"dependencies": {"a": ["b"], "foo": {"required": ["bar"]}, "c": True, "d": False}},
    {"allOf": [{"type": "integer"}, {"minimum": 2}]},
    {"anyOf": [{"type": "string"}, {"minimum": 3}]},
    {"anyOf": [{"type": "string"}, {}]},
    {"oneOf": [{"type": "integer"}, {"minimum": 2}]},
    {"oneOf": [{"type": "string"}, {"type": "array"}, {"type": "integer"}]},
    {"not": {"type": "string"}},
    {"not": {}},
    {"if": {"type": "integer"}, "then": {"minimum": 3}, "else": {"type": "string"}},
    {"if": {"minimum": 3}, "then": {"multipleOf": 2}},
    {"if": {"type": "string"}, "else": False},
    {"if": {"type": "string"}},
    {"then": False},
    {"properties": {"a": {"$ref": "#/definitions/pos"}}, "items": {"$ref": "#/definitions/pos"},
     "definitions": {"pos": {"type": "integer", "minimum": 0}}},
    {"$ref": "#/definitions/node", "definitions": {"node": NODE}},
    {"properties": {"a": {"$ref": "#"}, "b": {"type": "integer"}}},
    {"$ref": "#/definitions/i", "type": "string", "definitions": {"i": {"type": "integer"}}},
    {"properties": {"a": {"$ref": "#/definitions/x~1y"}, "b": {"$ref": "#/$defs/a%25b"}},
     "definitions": {"x/y": {"type": "string"}}, "$defs": {"a%b": {"const": 3}}},
    {"items": [{"$ref": "#/items/1"}, {"type": "string"}]},
    {"title": "t", "description": "d", "examples": [1], "default": 3, "$comment": "c"},
    {"unknownKeyword": 5, "type": "string", "readOnly": True},
]  # fmt: skip


def nested_properties(levels: int) -> dict:
    schema: dict = {"type": "integer", "minimum": 1}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema, "b": {"type": "string"}}}
    return schema


KEYWORD_SCHEMAS.append(nested_properties(30))  # split into functions past the inline depth


def targeted_values(rng: random.Random, schema: object) -> list:
    values = [random_value(rng) for _ in range(90)]
    values += [deep_list(30), [[1], [True]], [[1], [1.0]], [{"a": 1}, {"a": True}], [1, True]]
    values += [[0, False], [{"a": [1]}, {"a": [1.0]}], [[], {}], ["a", "a"], [None, None]]
    if schema == KEYWORD_SCHEMAS[-1]:
        for depth in (0, 5, 29, 30, 31):
            value: object = rng.choice([1, 0, "s"])
            for _ in range(depth):
                value = {"a": value, "b": rng.choice(["s", 1])}
            values.append(value)
    if isinstance(schema, dict) and "definitions" in schema and "node" in schema["definitions"]:
        values += [{"n": 1, "c": [{"n": 2, "c": []}, {"n": "x"}]}, {"c": [{"c": [{"n": 1.5}]}]}]
    return values


@pytest.mark.parametrize("schema", KEYWORD_SCHEMAS, ids=lambda s: json.dumps(s)[:60])
def test_keyword_agrees_with_draft7(schema):
    rng = random.Random(json.dumps(schema, sort_keys=True))
    ours = compile_validator(schema)
    reference = jsonschema.Draft7Validator(schema)
    for value in targeted_values(rng, schema):
        assert agree(ours, reference, value), (value, ours(value))


# --- drafts 3, 4 and 6: translated schema vs the original under its own draft ----------------

DRAFT_SCHEMAS = [
    {"$schema": D3, "type": "object", "properties": {
        "a": {"type": "integer", "required": True}, "b": {"type": "string", "required": False},
        "c": {"type": "any"}}},
    {"$schema": D3, "properties": {"n": {"type": "number", "divisibleBy": 3},
                                   "d": {"divisibleBy": 0.5}}},
    {"$schema": D3, "properties": {
        "a": {"disallow": "string"}, "b": {"disallow": ["integer", "null"]},
        "c": {"disallow": [{"type": "string", "minLength": 2}, "boolean"]},
        "d": {"disallow": "any"}}},
    {"$schema": D3, "properties": {
        "a": {"extends": {"type": "integer"}, "minimum": 2},
        "b": {"extends": [{"type": "string"}, {"maxLength": 2}]}}},
    {"$schema": D3, "properties": {
        "a": {"type": ["string", "null"]},
        "b": {"type": ["integer", {"type": "string", "minLength": 2}]},
        "c": {"type": ["any", "string"]},
        "d": {"type": [{"type": "array", "items": {"type": "string"}}, "boolean"]}}},
    {"$schema": D3, "properties": {
        "a": {"minimum": 2, "exclusiveMinimum": True, "maximum": 5, "exclusiveMaximum": False},
        "b": {"maximum": 5, "exclusiveMaximum": True}, "c": {"exclusiveMinimum": True}}},
    {"$schema": D3, "additionalProperties": True, "dependencies": {
        "a": "b", "foo": ["bar"],
        "c": {"properties": {"bar": {"type": "integer", "required": True}}}}},
    {"$schema": D3, "properties": {"foo": {"type": "object", "additionalProperties": False,
                                           "properties": {"a": {"required": True}}}}},
    {"$schema": D3, "properties": {
        "a": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
        "b": {"items": [{"type": "string"}], "additionalItems": False}}},
    {"$schema": D3, "properties": {"a": {"allOf": [{"type": "string"}], "required": True,
                                         "minProperties": 1, "multipleOf": 2}}},
    {"$schema": D3, "properties": {"a": {"$ref": "#/definitions/s", "required": True}},
     "definitions": {"s": {"type": "string", "pattern": "^a"}}},
    {"properties": {"a": {"type": "string", "required": True}, "b": {"enum": [1, "b"]}}},
    {"$schema": D4, "required": ["a"], "properties": {
        "a": {"minimum": 2, "exclusiveMinimum": True},
        "b": {"maximum": 5, "exclusiveMaximum": True},
        "c": {"exclusiveMinimum": True}, "d": {"minimum": 1, "exclusiveMinimum": False}}},
    {"$schema": D4, "properties": {
        "a": {"const": 1}, "b": {"contains": {"type": "string"}},
        "c": {"propertyNames": {"maxLength": 1}}, "d": {"if": {"type": "string"}, "then": False}}},
    {"$schema": D4, "id": "http://example.com/s", "properties": {"a": {"$ref": "#/definitions/p"}},
     "definitions": {"p": {"type": "integer", "not": {"enum": [3]}}}},
    {"$schema": D6, "properties": {
        "a": {"if": {"type": "string"}, "then": False}, "b": {"const": 2},
        "c": {"exclusiveMinimum": 2}, "d": {"contains": {"const": 1}}}},
]  # fmt: skip
NOT_INTEGRAL = [v for v in SCALARS if not (type(v) is float and v.is_integer())]


@pytest.mark.parametrize("raw", DRAFT_SCHEMAS, ids=lambda s: json.dumps(s)[:70])
def test_older_drafts_agree_with_their_own_validator(raw):
    rng = random.Random(json.dumps(raw, sort_keys=True))
    ours = compile_schema("Draft", "1", raw).validate
    original = {"additionalProperties": False, **raw}
    draft = original.get("$schema", D3)
    reference = {D3: jsonschema.Draft3Validator, D4: jsonschema.Draft4Validator}.get(
        draft, jsonschema.Draft6Validator
    )(original)
    for _ in range(150):
        value = random_value(rng, 1, NOT_INTEGRAL)  # draft 3/4 "integer" rejects 3.0: see gaps
        if not isinstance(value, dict) or rng.random() < 0.5:
            value = {k: random_value(rng, 1, NOT_INTEGRAL) for k in rng.sample(KEYS[:6], 3)}
        assert (ours(value) is None) == reference.is_valid(value), value


def test_effective_schema_is_accepted_by_draft7_metaschema():
    for raw in DRAFT_SCHEMAS:
        jsonschema.Draft7Validator.check_schema(effective_schema(raw))


def test_property_names_are_the_keys_decoded_events_hold():
    """The generated code looks properties up by the str objects orjson's key cache gives
    decoded events (identity, no character compare), and still finds keys made otherwise."""
    import orjson

    schema = {
        "type": "object",
        "properties": {"connectEnd": {"type": "integer"}, "odd key": {"type": "string"}},
        "required": ["connectEnd"],
        "additionalProperties": False,
    }
    validate = compile_validator(schema)
    decoded = orjson.loads(b'{"connectEnd": 1, "odd key": "x"}')
    held = dict(zip(["connectEnd", "odd key"], decoded, strict=True))
    names = validate.__globals__
    assert names["_p_connectEnd"] is held["connectEnd"]
    assert any(value is held["odd key"] for value in names.values())
    assert validate(decoded) is None
    built = {"".join(["connect", "End"]): 1}  # an equal key, another object
    assert validate(built) is None
    assert validate({"connectEnd": "1"}).path == "$.connectEnd"
