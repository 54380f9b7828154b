"""Every validation error of one event, for a person fixing it: path, value, the schema's words.

The forwarder stops at the first error (``CompiledSchema.validate``), which is what counting
needs; an owner fixing their code wants them all, with the failing value and the ``description``
the schema gives of that property.  The verdict is never taken from here: callers judge with the
compiled validator, then ask ``explain`` what is wrong.  The full list comes from the
``jsonschema`` package (a dependency) run on the same effective schema; without it (a broken
install), or should it find nothing, the compiled validator's own error is the list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import NamedTuple

from el_monitor.schema.compiled import CompiledSchema
from el_monitor.schema.runtime import ValidationFailure, path_step

__all__ = ["Problem", "describe", "explain", "path_of", "shorten", "steps_of"]

VALUE_LIMIT = 60  # characters of a failing value shown
MESSAGE_LIMIT = 200
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")
_REQUIRED = re.compile(r"^'((?:[^'\\]|\\.)*)' is a required property$")


class Problem(NamedTuple):
    """One thing wrong with an event."""

    path: str  # JSONPath in the event, as the forwarder records it ($.skin, $.a[0])
    message: str
    value: str | None  # the failing value as short JSON text; None for an object (the
    # message names its keys at fault) and for a missing property
    description: str | None  # the schema's description of the property at fault


def explain(compiled: CompiledSchema, event: object, first: ValidationFailure) -> list[Problem]:
    """All the errors of an event the compiled validator rejected with ``first``, in path
    order, ``first`` (the one the forwarder records) always among them."""
    problems = _all_errors(compiled.schema, event)
    if not any(p.path == first.path for p in problems):
        steps = steps_of(first.path)
        value = _value_at(event, steps)
        problems.insert(
            0,
            Problem(first.path, first.message, value, describe(compiled.schema, steps)),
        )
    return problems


def _all_errors(schema: dict, event: object) -> list[Problem]:
    try:
        import jsonschema
    except ImportError:
        return []
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    out = []
    try:
        # jsonschema validates any Python object; its stubs accept only JSON-like types.
        errors = sorted(
            cls(schema).iter_errors(event),  # type: ignore[arg-type]
            key=lambda e: [str(s) for s in e.absolute_path],
        )
    except (RecursionError, jsonschema.SchemaError):
        return []
    for error in errors:
        steps = list(error.absolute_path)
        described = steps
        missing = _REQUIRED.match(error.message) if error.validator == "required" else None
        if missing:  # the object is at fault; its absent property is the one described
            described = [*steps, missing.group(1)]
        out.append(
            Problem(
                path_of(steps),
                _clip(error.message, MESSAGE_LIMIT),
                None if missing or isinstance(error.instance, dict) else _value_at(event, steps),
                describe(schema, described),
            )
        )
    return out


def path_of(steps: Sequence[object]) -> str:
    """JSONPath of a list of keys and indexes, written as the compiled validator writes it."""
    return "$" + "".join(f"[{s}]" if type(s) is int else path_step(s) for s in steps)


def steps_of(path: str) -> list[str | int]:
    """The keys and indexes of a JSONPath ``path_of`` wrote; [] for ``$`` or anything else."""
    if not path.startswith("$"):
        return []
    steps: list[str | int] = []
    for match in _STEP.finditer(path, 1):
        name, quoted, index = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(name if name is not None else re.sub(r"\\(.)", r"\1", quoted))
    return steps


def describe(schema: object, steps: Sequence[object]) -> str | None:
    """The ``description`` of the (sub)schema that governs the value at ``steps``."""
    node = schema
    for step in steps:
        if not isinstance(node, dict):
            return None
        node = _child(node, step)
    if isinstance(node, dict) and isinstance(node.get("description"), str):
        return _clip(" ".join(node["description"].split()), MESSAGE_LIMIT)
    return None


def _child(node: dict, step: object) -> object:
    if type(step) is int:
        items = node.get("items")
        if isinstance(items, list):
            return items[step] if step < len(items) else node.get("additionalItems")
        return items
    properties = node.get("properties")
    if isinstance(properties, dict) and step in properties:
        return properties[step]
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict):
        for pattern, sub in patterns.items():
            try:
                if re.search(pattern, str(step)):
                    return sub
            except re.error:
                continue
    return node.get("additionalProperties")


def _value_at(event: object, steps: Sequence[object]) -> str | None:
    node = event
    for step in steps:
        if isinstance(node, list) and type(step) is int and step < len(node):
            node = node[step]
        elif not isinstance(node, dict) or step not in node:
            return None
        else:
            node = node[step]
    return shorten(node)


def shorten(value: object, limit: int = VALUE_LIMIT) -> str:
    """A value as JSON text of at most ``limit`` characters (cut with an ellipsis)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        text = "[unprintable]"
    return _clip(text, limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
