"""A first pass in C for the usual event: msgspec checks it against a Struct made from its schema.

The generated validator spends about 80 ns of bytecode on each property of an event; msgspec
checks the same types, bounds, lengths, patterns and enums in C, about 2.7x as fast on a real
NavigationTiming event.  Its answer is trusted only when it is "valid": an event it refuses
goes on to the generated validator, whose verdict and message stand.  So a translation may be
stricter than its schema (an integer-valued ``3.0`` for an integer, a NaN against a bound, an
enum member of a type msgspec's ``Literal`` cannot hold: refused here, judged there) but never
looser, and a schema with any keyword not translated exactly gets no first pass at all.
Like the generated validator, it answers for JSON-decoded values (dict, list, str, int,
float, bool, None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

import msgspec
import msgspec.inspect

from el_monitor.schema.runtime import Validator

# Keywords that never change a verdict (``format`` is an annotation in draft 07, and our
# validators do not assert it).
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "format"}
    | {"readOnly", "writeOnly", "deprecated"}
)
_NUMBER = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_STRING = ("minLength", "maxLength", "pattern")
_ARRAY = ("items", "minItems", "maxItems")
_OBJECT = ("properties", "required", "additionalProperties")
_TRANSLATED = frozenset({"type", "enum", *_NUMBER, *_STRING, *_ARRAY, *_OBJECT}) | _ANNOTATIONS
INT64 = (-(2**63), 2**63 - 1)  # the widest bounds msgspec holds for an int
_SCALARS = ("string", "integer", "number", "boolean")
_EVENT_KEYWORDS = frozenset({"type", *_OBJECT}) | _ANNOTATIONS
# The JSON types a Literal member may stand for: msgspec's Literal holds str, int and None.
_LITERAL_TYPES = {str: ("string",), int: ("integer", "number"), type(None): ("null",)}


class _NotExact(Exception):
    """The schema uses something this module does not translate exactly."""


def first_pass(schema: Mapping[str, Any], exact: Validator) -> Validator:
    """``exact``, preceded by msgspec's check where ``schema`` (effective, draft 07) allows it."""
    try:
        checked = _value_type(schema, "Event")
        msgspec.inspect.type_info(checked)  # msgspec's own objections (a union it cannot tell)
    except Exception:  # _NotExact, or a type or bound msgspec cannot hold: no first pass
        return exact
    convert = msgspec.convert

    def validate(event: object) -> Any:
        try:
            convert(event, checked)
        except Exception:  # refused, or too deep or odd for msgspec: the exact verdict
            return exact(event)
        return None

    validate.source = getattr(exact, "source", "")  # type: ignore[attr-defined]
    return validate


def flat_event(
    schema: Mapping[str, Any], longest: Mapping[str, int]
) -> dict[str, tuple[Any, bool]] | None:
    """For an event schema of scalar properties only, each translated exactly: every
    property's msgspec type for its non-null values (strings no longer than ``longest`` of its
    name where given: a column's limit), and whether the schema requires it.  None for any
    other schema.  Like ``first_pass``, a value it refuses may still be valid."""
    try:
        if not schema.keys() <= _EVENT_KEYWORDS or schema.get("type") != "object":
            raise _NotExact
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if schema.get("additionalProperties", True) not in (True, False):
            raise _NotExact
        if not isinstance(properties, dict) or not isinstance(required, list):
            raise _NotExact
        if not set(required) <= properties.keys():
            raise _NotExact
        types = {
            name: _non_null_scalar(spec, name, longest.get(name))
            for name, spec in properties.items()
        }
        for kind in types.values():
            msgspec.inspect.type_info(kind)  # msgspec's own objections
    except Exception:  # _NotExact, or a type or bound msgspec cannot hold
        return None
    return {name: (kind, name in required) for name, kind in types.items()}


def _non_null_scalar(spec: object, name: str, longest: int | None) -> Any:
    """The msgspec type of the non-null values ``spec`` accepts, when they are of one scalar
    type; a string at most ``longest`` characters long."""
    if not isinstance(spec, dict):
        raise _NotExact
    types = spec.get("type")
    kinds = [types] if isinstance(types, str) else types
    if not isinstance(kinds, list):
        raise _NotExact
    kinds = [kind for kind in kinds if kind != "null"]
    if len(kinds) != 1 or kinds[0] not in _SCALARS:
        raise _NotExact
    narrowed = {**spec, "type": kinds[0]}
    if "enum" in spec:
        members = spec["enum"]
        if not isinstance(members, list):
            raise _NotExact
        narrowed["enum"] = [member for member in members if member is not None]
        if longest is not None and any(len(str(m)) > longest for m in narrowed["enum"]):
            raise _NotExact
    elif longest is not None and kinds[0] == "string":
        limit = _count(spec, "maxLength")
        narrowed["maxLength"] = longest if limit is None else min(limit, longest)
    return _value_type(narrowed, name)


def _value_type(spec: object, name: str) -> Any:
    """The msgspec type accepting exactly what ``spec`` accepts, or raises _NotExact."""
    if spec is True:
        return Any
    if not isinstance(spec, dict) or not spec.keys() <= _TRANSLATED:
        raise _NotExact
    if spec.keys() <= _ANNOTATIONS:
        return Any
    types = spec.get("type")
    if "enum" in spec:
        return _enum(spec, types)
    names = [types] if isinstance(types, str) else types
    if not isinstance(names, list) or not names:
        raise _NotExact  # no type: any value, and the keywords apply by the value's type
    members: list[Any] = []
    for kind in dict.fromkeys(names):
        if kind == "integer" and "number" in names:
            continue  # "number" holds the integers already
        members += _members(kind, spec, name)
    return Union[tuple(members)] if len(members) > 1 else members[0]  # noqa: UP007


def _members(kind: object, spec: dict, name: str) -> list[Any]:
    if kind == "string":
        return [_constrained(str, _string_meta(spec))]
    if kind == "integer":
        return [_constrained(int, _integer_bounds(spec))]
    if kind == "number":
        return [_constrained(int, _integer_bounds(spec)), _constrained(float, _float_bounds(spec))]
    if kind == "boolean":
        return [bool]
    if kind == "null":
        return [None]
    if kind == "array":
        return [_array(spec, name)]
    if kind == "object":
        return [_object(spec, name)]
    raise _NotExact


def _constrained(base: type, meta: dict[str, Any]) -> Any:
    return Annotated[base, msgspec.Meta(**meta)] if meta else base


def _enum(spec: dict, types: object) -> Any:
    """A ``Literal`` of the members, when each is a str, int or None of a type the schema
    allows, and nothing else constrains the value."""
    members = spec["enum"]
    if (
        not isinstance(members, list)
        or not members
        or spec.keys() - _ANNOTATIONS - {"type", "enum"}
    ):
        raise _NotExact
    allowed = {types} if isinstance(types, str) else set(types) if isinstance(types, list) else None
    for member in members:
        kinds = _LITERAL_TYPES.get(type(member))
        if kinds is None or allowed is not None and not allowed.intersection(kinds):
            raise _NotExact
    return Literal[tuple(dict.fromkeys(members))]


def _number(spec: dict, keyword: str) -> int | float | None:
    value = spec.get(keyword)
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _NotExact
    return value


def _integer_bounds(spec: dict) -> dict[str, int]:
    """The bounds of an int, as ints: ``minimum 2.5`` is ``>= 3``, ``exclusiveMaximum 5`` is
    ``<= 4``."""
    lows, highs = [], []
    if (low := _number(spec, "minimum")) is not None:
        lows.append(math.ceil(low))
    if (low := _number(spec, "exclusiveMinimum")) is not None:
        lows.append(math.floor(low) + 1)
    if (high := _number(spec, "maximum")) is not None:
        highs.append(math.floor(high))
    if (high := _number(spec, "exclusiveMaximum")) is not None:
        highs.append(math.ceil(high) - 1)
    # Never wider than an int64, the most msgspec bounds hold: a larger int (orjson decodes up
    # to 2**64 - 1) is refused here and judged by the exact validator.
    return {"ge": max([*lows, INT64[0]]), "le": min([*highs, INT64[1]])}


def _float_bounds(spec: dict) -> dict[str, float]:
    """The bounds of a float, each one a float can hold exactly (a float compared with a
    rounded bound could pass where the exact comparison fails)."""
    bounds = {}
    for keyword, meta in zip(_NUMBER, ("ge", "le", "gt", "lt"), strict=True):
        value = _number(spec, keyword)
        if value is not None:
            if float(value) != value:
                raise _NotExact
            bounds[meta] = float(value)
    return bounds


def _count(spec: dict, keyword: str) -> int | None:
    value = spec.get(keyword)
    if value is None:
        return None
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or value < 0:
        raise _NotExact
    return value


def _string_meta(spec: dict) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if (shortest := _count(spec, "minLength")) is not None:
        meta["min_length"] = shortest
    if (longest := _count(spec, "maxLength")) is not None:
        meta["max_length"] = longest
    if "pattern" in spec:
        if not isinstance(spec["pattern"], str):
            raise _NotExact
        meta["pattern"] = spec["pattern"]  # re.search, as the generated validator does
    return meta


def _array(spec: dict, name: str) -> Any:
    items = spec.get("items", True)
    element = _value_type(items, name + "_item")
    meta: dict[str, Any] = {}
    if (shortest := _count(spec, "minItems")) is not None:
        meta["min_length"] = shortest
    if (longest := _count(spec, "maxItems")) is not None:
        meta["max_length"] = longest
    return _constrained(list[element], meta)  # type: ignore[valid-type]


def _object(spec: dict, name: str) -> Any:
    """A Struct with a field per property (renamed: a property name need not be a Python
    name); a required name without a property takes any value, where other names may."""
    properties = spec.get("properties", {})
    required = spec.get("required", [])
    extra = spec.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise _NotExact
    if extra is not True and extra is not False:  # a schema for the other names
        raise _NotExact
    if not properties and not required:
        if extra is False:
            raise _NotExact  # only the empty object: rare, left to the generated validator
        return dict[str, Any]
    names = list(dict.fromkeys([*properties, *required]))
    if not all(isinstance(key, str) for key in names):
        raise _NotExact
    if extra is False and not properties.keys() >= set(names):
        raise _NotExact  # required yet not allowed: no value passes, left to the validator
    fields: list[Any] = []
    for index, key in enumerate(names):
        kind = _value_type(properties[key], f"{name}_{index}") if key in properties else Any
        fields.append((f"f{index}", kind) if key in required else (f"f{index}", kind, None))
    return msgspec.defstruct(
        name,
        fields,
        rename={f"f{index}": key for index, key in enumerate(names)},
        forbid_unknown_fields=extra is False,
        kw_only=True,
        gc=False,  # made and dropped at once: never worth the collector's tracking
    )
