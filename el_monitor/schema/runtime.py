"""What a compiled validator calls at run time: its result type and the helpers in its globals.

``el_monitor.schema.generator`` writes Python source that refers to these helpers by the short
names in ``NAMESPACE``; they run per event, so each is written for speed first.  They mirror
``jsonschema``'s semantics (``True != 1``, ``1 == 1.0``) for JSON-decoded values, and none of
them recurses on the data, so a hostile value cannot exhaust the stack.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import Any, NamedTuple


class ValidationFailure(NamedTuple):
    """The first error found: where (JSONPath relative to the event) and why."""

    path: str
    message: str


Validator = Callable[[object], ValidationFailure | None]

_JSON_TYPES = {
    dict: "object", list: "array", str: "string", bool: "boolean",
    int: "integer", float: "number", type(None): "null",
}  # fmt: skip
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Tags that keep canonical keys of booleans, arrays and objects apart from other values.
_BOOL, _ARRAY, _OBJECT, _CUT = object(), object(), object(), object()
_UNIQUE_DEPTH = 16


def type_name(value: object) -> str:
    """The JSON type name of ``value`` for messages (the Python name for non-JSON values)."""
    return _JSON_TYPES.get(type(value)) or type(value).__name__


def show(value: object) -> str:
    """A short repr for messages: untrusted values can be huge or deeply nested."""
    if type(value) is str:
        return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
    if type(value) is int:
        return repr(value) if value.bit_length() <= 64 else f"<{value.bit_length()}-bit integer>"
    kind = type(value)
    if kind is float or kind is bool or value is None:
        return repr(value)
    if type(value) is list:
        return f"<array of {len(value)} items>"
    if type(value) is dict:
        return f"<object with {len(value)} properties>"
    return f"<{kind.__name__}>"


def path_step(key: object) -> str:
    """JSONPath step for an object key: ``.name`` or ``['odd key']``."""
    if type(key) is str and _SIMPLE_KEY.fullmatch(key):
        return "." + key
    text = key if type(key) is str else str(key)
    return "['" + text.replace("\\", "\\\\").replace("'", "\\'") + "']"


def equal(one: object, two: object) -> bool:
    """jsonschema's ``equal`` (True != 1, 1 == 1.0, deep), iterative so depth cannot raise."""
    stack = [(one, two)]
    while stack:
        a, b = stack.pop()
        if a is b:
            continue
        if isinstance(a, str) or isinstance(b, str):
            if a != b:
                return False
        elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b, strict=True))
        elif isinstance(a, dict) and isinstance(b, dict):
            if len(a) != len(b):
                return False
            for k, item in a.items():
                if k not in b:
                    return False
                stack.append((item, b[k]))
        elif type(a) is bool or type(b) is bool or a != b:
            return False
    return True


def in_enum(value: object, members: tuple[object, ...]) -> bool:
    """``enum`` membership by ``equal``, for enums that are not all strings."""
    return any(equal(member, value) for member in members)


def _canon(value: Any, depth: int, cut: list[bool]) -> object:
    """A hashable key equal for values ``equal`` calls equal; parts past the depth limit
    become ``_CUT`` (noted in ``cut``) so hashing never recurses deeply.

    ``value`` is ``Any`` like ``json.loads``'s result: this runs per array item, dispatching on
    the exact type once, which mypy cannot narrow through and ``isinstance`` would slow down.
    """
    kind = type(value)
    if kind is bool:
        return (_BOOL, value)
    if kind is list or kind is dict:
        if depth >= _UNIQUE_DEPTH:
            cut.append(True)
            return _CUT
        if kind is list:
            return (_ARRAY, tuple(_canon(item, depth + 1, cut) for item in value))
        return (_OBJECT, frozenset((k, _canon(v, depth + 1, cut)) for k, v in value.items()))
    return value


def unique(items: list[object]) -> bool:
    """``uniqueItems``: hash canonical keys; compare exactly only items too deep to hash."""
    seen: set[object] = set()
    deep: dict[object, list[object]] = {}  # truncated key -> items sharing it, compared exactly
    for item in items:
        cut: list[bool] = []
        key = _canon(item, 0, cut)
        if not cut:
            if key in seen:
                return False
            seen.add(key)
        else:
            group = deep.setdefault(key, [])
            if any(equal(other, item) for other in group):
                return False
            group.append(item)
    return True


def not_multiple(value: float, divisor: float) -> bool:
    """jsonschema's float ``multipleOf`` test, minus its crashes on NaN, inf and huge ints."""
    if type(value) is float and not math.isfinite(value):
        return True
    try:
        quotient = value / divisor
        return int(quotient) != quotient
    except OverflowError:
        return (Fraction(value) / Fraction(divisor)).denominator != 1


# The globals every generated validator starts from, under the names its source uses.
NAMESPACE: Mapping[str, object] = MappingProxyType(
    {
        "_VF": ValidationFailure,
        "_tn": type_name,
        "_show": show,
        "_key": path_step,
        "_equal": equal,
        "_in": in_enum,
        "_unique": unique,
        "_nm": not_multiple,
    }
)
