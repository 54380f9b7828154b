"""Which JSON Schema draft a schema is written in, and its translation to draft 07.

EventLogging's schemas were draft 3 (``"required": true`` on properties); Wikimedia's current
ones are draft 07.  Every schema is translated once to an *effective* draft-07 schema (plus
EventLogging's top-level ``additionalProperties: false``), so the generator compiles one draft.
"""

from __future__ import annotations

import copy
from typing import overload

from el_monitor.errors import SchemaError
from el_monitor.schema.generator import subschemas

__all__ = ["DRAFT7_URI", "draft_of", "effective_schema"]

DRAFT7_URI = "http://json-schema.org/draft-07/schema#"
_DRAFTS = {
    "json-schema.org/draft-03/schema": 3,
    "json-schema.org/draft-04/schema": 4,
    "json-schema.org/draft-06/schema": 6,
    "json-schema.org/draft-07/schema": 7,
    "json-schema.org/draft/2019-09/schema": 2019,
    "json-schema.org/draft/2020-12/schema": 2020,
}
# Keywords a draft's validator does not know (so ignores) but draft 07 would enforce.
_UNKNOWN_IN = {
    3: frozenset(
        {"allOf", "anyOf", "oneOf", "not", "minProperties", "maxProperties", "multipleOf"}
        | {"const", "contains", "propertyNames", "if", "then", "else", "required"}
    ),
    4: frozenset({"const", "contains", "propertyNames", "if", "then", "else"}),
    6: frozenset({"if", "then", "else"}),
    7: frozenset(),
}
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_VALUES = (
    "additionalItems", "additionalProperties", "contains", "propertyNames", "not", "if", "then",
    "else",
)  # fmt: skip


def draft_of(raw: dict) -> int:
    """The draft ``raw`` is written in: its ``$schema`` when known (2019 and 2020 for drafts
    2019-09 and 2020-12); without one, 3 when a property has a boolean ``required``; else 7."""
    uri = raw.get("$schema")
    if isinstance(uri, str):
        draft = _DRAFTS.get(uri.partition("://")[2].rstrip("#"))
        if draft:
            return draft
    elif uri is None and any(
        isinstance(sub, dict) and isinstance(sub.get("required"), bool)
        for node in subschemas(raw)
        if isinstance(node.get("properties"), dict)
        for sub in node["properties"].values()
    ):
        return 3
    return 7


def _type_schemas(types: list, draft: int) -> list:
    return [{"type": t} if isinstance(t, str) else _translate(t, draft) for t in types]


@overload
def _translate(schema: dict, draft: int) -> dict: ...
@overload
def _translate(schema: object, draft: int) -> object: ...
def _translate(schema: object, draft: int) -> object:
    """One subschema of a draft-``draft`` schema, rewritten to mean the same in draft 07."""
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    drop = _UNKNOWN_IN[draft]
    out: dict = {}
    for key, value in schema.items():
        if key in drop:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _translate(sub, draft) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            out[key] = _translate(value, draft)
        elif key in ("items", "allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_translate(sub, draft) for sub in value]
        elif key == "items":
            out[key] = _translate(value, draft)
        elif key == "dependencies" and isinstance(value, dict):
            out[key] = {
                name: [dep] if isinstance(dep, str) else _translate(dep, draft)
                for name, dep in value.items()
            }
        elif draft == 3 and key in ("type", "disallow", "extends", "divisibleBy"):
            _translate_draft3(out, key, value)
        elif draft <= 4 and key == "id" and isinstance(value, str):
            out["$id"] = value
        else:
            out[key] = copy.deepcopy(value)
    if draft <= 4:  # boolean exclusiveMinimum/Maximum modify minimum/maximum
        for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if flag in out and out.pop(flag) and bound in out:
                out[flag] = out.pop(bound)
    if draft == 3 and isinstance(schema.get("properties"), dict):
        required = [
            name
            for name, sub in schema["properties"].items()
            if isinstance(sub, dict) and sub.get("required", False)
        ]
        if required:
            out["required"] = required
    return out


def _translate_draft3(out: dict, key: str, value: object) -> None:
    """Draft 3's union types, ``disallow``, ``extends`` and ``divisibleBy`` in draft-07 terms."""
    if key == "divisibleBy":
        out["multipleOf"] = value
    elif key == "extends":
        subs = value if isinstance(value, list) else [value]
        out["allOf"] = [_translate(sub, 3) for sub in subs]
    elif key == "type":
        types = value if isinstance(value, list) else [value]
        if "any" in types:
            return
        if all(isinstance(t, str) for t in types):
            out["type"] = value
        else:
            out["anyOf"] = _type_schemas(types, 3)
    else:  # disallow: valid only when none of the listed types matches
        types = value if isinstance(value, list) else [value]
        if "any" in types:
            out["not"] = {}
        elif all(isinstance(t, str) for t in types):
            out["not"] = {"type": types}
        else:
            out["not"] = {"anyOf": _type_schemas(types, 3)}


def effective_schema(raw: dict) -> dict:
    """The draft-07 schema that validates like ``raw`` under its own draft, with EventLogging's
    default of no undeclared top-level properties.

    Drafts 2019-09 and 2020-12 are kept as they are (validated by ``jsonschema`` when they use
    keywords whose meaning changed).  Known gap: draft 3/4 ``integer`` rejects 3.0, draft 07
    accepts it.
    """
    if not isinstance(raw, dict):
        raise SchemaError("a schema must be a JSON object")
    draft = draft_of(raw)
    try:
        if draft > 7:
            out = copy.deepcopy(raw)
        else:
            out = _translate(raw, draft)
            out["$schema"] = DRAFT7_URI
    except RecursionError:
        raise SchemaError("schema is nested too deeply") from None
    if "additionalProperties" not in out and "unevaluatedProperties" not in out:
        out["additionalProperties"] = False
    return out
