"""Compile a draft-07 JSON Schema into specialised Python source, once per schema.

The forwarder validates every event, so an interpreter walking the schema per event (what the
``jsonschema`` package does) is far too slow.  Like fastjsonschema, we generate straight-line
Python for each schema and ``exec`` it: type tests become ``type(v) is str``, properties become
``in`` tests, enums become frozenset lookups.  The verdicts equal ``jsonschema.Draft7Validator``'s
for JSON-decoded values (dict, list, str, int, float, bool, None).

Generated helpers return ``None`` or ``(relative_path, message)``; the entry function turns the
first failure into a ``ValidationFailure``.  Recursion follows the schema only (``$ref`` targets
are functions), never the data, and the entry never raises: a value that defeats the validator
(recursion through a recursive ``$ref``, a non-JSON Python object) is reported as invalid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import NamedTuple
from urllib.parse import unquote

from el_monitor.errors import SchemaError


class ValidationFailure(NamedTuple):
    """The first error found: where (JSONPath relative to the event) and why."""

    path: str
    message: str


Validator = Callable[[object], ValidationFailure | None]


class Unsupported(Exception):
    """The schema needs a feature we do not compile; the caller falls back to ``jsonschema``."""


# Keywords grouped by the JSON type they apply to; "any" keywords apply to every value.
_KEYWORD_CLASS = {
    **dict.fromkeys(("enum", "const", "allOf", "anyOf", "oneOf", "not", "if"), "any"),
    **dict.fromkeys(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"), "number"),
    "multipleOf": "number",
    **dict.fromkeys(("minLength", "maxLength", "pattern"), "string"),
    **dict.fromkeys(("items", "additionalItems", "minItems", "maxItems"), "array"),
    **dict.fromkeys(("uniqueItems", "contains"), "array"),
    **dict.fromkeys(("properties", "patternProperties", "additionalProperties"), "object"),
    **dict.fromkeys(("required", "minProperties", "maxProperties"), "object"),
    **dict.fromkeys(("propertyNames", "dependencies"), "object"),
}
KEYWORDS = frozenset(_KEYWORD_CLASS) | {"type", "$ref", "then", "else"}
_CLASS_TYPES = {
    "number": frozenset({"integer", "number"}),
    "string": frozenset({"string"}),
    "array": frozenset({"array"}),
    "object": frozenset({"object"}),
}
_GUARD = {
    "number": "(type({v}) is int or type({v}) is float)",
    "string": "type({v}) is str",
    "array": "type({v}) is list",
    "object": "type({v}) is dict",
}
_TYPE_OK = {
    **_GUARD,
    "integer": "(type({v}) is int or type({v}) is float and {v}.is_integer())",
    "boolean": "type({v}) is bool",
    "null": "{v} is None",
}
_TYPE_BAD = {
    "string": "type({v}) is not str",
    "integer": "type({v}) is not int and (type({v}) is not float or not {v}.is_integer())",
    "number": "type({v}) is not int and type({v}) is not float",
    "boolean": "type({v}) is not bool",
    "object": "type({v}) is not dict",
    "array": "type({v}) is not list",
    "null": "{v} is not None",
}
# Draft 2019-09 / 2020-12 keywords whose meaning differs from draft 7: jsonschema handles those.
_MODERN_BLOCKERS = frozenset(
    {
        "$recursiveRef", "$recursiveAnchor", "$dynamicRef", "$dynamicAnchor", "$anchor",
        "unevaluatedProperties", "unevaluatedItems", "prefixItems", "dependentRequired",
        "dependentSchemas", "minContains", "maxContains", "additionalItems", "dependencies",
    }
)  # fmt: skip
_MAX_INLINE = 10  # indentation depth past which a subschema becomes its own function
_JSON_TYPES = {
    dict: "object", list: "array", str: "string", bool: "boolean",
    int: "integer", float: "number", type(None): "null",
}  # fmt: skip
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOOL, _ARRAY, _OBJECT, _CUT = object(), object(), object(), object()
_UNIQUE_DEPTH = 16


# --- runtime helpers, referenced by the generated code ------------------------------------


def _type_name(value: object) -> str:
    return _JSON_TYPES.get(type(value)) or type(value).__name__


def _show(value: object) -> str:
    """A short repr for messages: untrusted values can be huge or deeply nested."""
    kind = type(value)
    if kind is str:
        return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
    if kind is int:
        return repr(value) if value.bit_length() <= 64 else f"<{value.bit_length()}-bit integer>"
    if kind is float or kind is bool or value is None:
        return repr(value)
    if kind is list:
        return f"<array of {len(value)} items>"
    if kind is dict:
        return f"<object with {len(value)} properties>"
    return f"<{kind.__name__}>"


def path_step(key: object) -> str:
    """JSONPath step for an object key: ``.name`` or ``['odd key']``."""
    if type(key) is str and _SIMPLE_KEY.fullmatch(key):
        return "." + key
    text = key if type(key) is str else str(key)
    return "['" + text.replace("\\", "\\\\").replace("'", "\\'") + "']"


def _equal(one: object, two: object) -> bool:
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


def _in_enum(value: object, members: tuple) -> bool:
    return any(_equal(member, value) for member in members)


def _canon(value: object, depth: int, cut: list) -> object:
    """A hashable key equal for values ``_equal`` calls equal; parts past the depth limit
    become ``_CUT`` (noted in ``cut``) so hashing never recurses deeply."""
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


def _unique(items: list) -> bool:
    seen: set = set()
    deep: dict = {}  # truncated key -> items sharing it, compared exactly
    for item in items:
        cut: list = []
        key = _canon(item, 0, cut)
        if not cut:
            if key in seen:
                return False
            seen.add(key)
        else:
            group = deep.setdefault(key, [])
            if any(_equal(other, item) for other in group):
                return False
            group.append(item)
    return True


def _not_multiple(value: float, divisor: float) -> bool:
    """jsonschema's float ``multipleOf`` test, minus its crashes on NaN, inf and huge ints."""
    if type(value) is float and not math.isfinite(value):
        return True
    try:
        quotient = value / divisor
        return int(quotient) != quotient
    except OverflowError:
        return (Fraction(value) / Fraction(divisor)).denominator != 1


_RUNTIME = {
    "_VF": ValidationFailure,
    "_tn": _type_name,
    "_show": _show,
    "_key": path_step,
    "_equal": _equal,
    "_in": _in_enum,
    "_unique": _unique,
    "_nm": _not_multiple,
}


# --- schema walking ------------------------------------------------------------------------


def subschemas(schema: object) -> Iterator[dict]:
    """Every dict subschema (root included), without recursion, for whole-schema checks."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        yield node
        for key, value in node.items():
            if key in ("properties", "patternProperties", "definitions", "$defs", "dependencies"):
                if isinstance(value, dict):
                    stack.extend(value.values())
            elif isinstance(value, list) and key in ("items", "allOf", "anyOf", "oneOf"):
                stack.extend(value)
            elif key not in ("enum", "const") and (
                key in _KEYWORD_CLASS or key in ("then", "else")
            ):
                stack.append(value)


def _pointer(where: str, key: object) -> str:
    return f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"


# --- code generation -----------------------------------------------------------------------


class _Fn:
    """One generated function: its lines and whether it is the public entry."""

    def __init__(self, entry: bool) -> None:
        self.lines: list[str] = []
        self.entry = entry


class _Gen:
    def __init__(self, root: dict, modern: bool) -> None:
        self.root = root
        self.modern = modern
        self.ns: dict = dict(_RUNTIME)
        self.defs: list[str] = []
        self.refs: dict[str, str] = {}
        self.count = 0
        nodes = list(subschemas(root))
        has_ref = any("$ref" in node for node in nodes)
        if has_ref and any("$id" in node for node in nodes if node is not root):
            raise Unsupported("$id")  # embedded $id changes what '#' means below it

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, value: object) -> str:
        name = self.name("_k")
        self.ns[name] = value
        return name

    def lit(self, value: object) -> str:
        """A Python expression for a schema constant (literal when it round-trips)."""
        kind = type(value)
        simple = kind is str or kind is bool or value is None
        if simple or (kind is int and value.bit_length() < 63):
            return repr(value)
        if kind is float and math.isfinite(value):
            return repr(value)
        return self.const(value)

    # path expressions: parts are ("s", static text) or ("d", python expression)

    @staticmethod
    def path(parts: tuple, entry: bool, tail: str = "") -> str:
        pieces, static = [], "$" if entry else ""
        for kind, text in parts:
            if kind == "s":
                static += text
            else:
                if static:
                    pieces.append(repr(static))
                static = ""
                pieces.append(text)
        if static or not pieces:
            pieces.append(repr(static))
        if tail:
            pieces.append(tail)
        return " + ".join(pieces)

    def fail(self, fn: _Fn, ind: int, parts: tuple, message: str) -> None:
        path = self.path(parts, fn.entry)
        result = f"_VF({path}, {message})" if fn.entry else f"({path}, {message})"
        fn.lines.append(f"{'    ' * ind}return {result}")

    @contextmanager
    def block(self, fn: _Fn, *prelude: str) -> Iterator[None]:
        """Lines opening a block; dropped again if the body emits nothing."""
        start = len(fn.lines)
        fn.lines.extend(prelude)
        mark = len(fn.lines)
        yield
        if len(fn.lines) == mark:
            del fn.lines[start:]

    def call(self, fn: _Fn, ind: int, fname: str, var: str, parts: tuple) -> None:
        pad = "    " * ind
        fn.lines.append(f"{pad}e = {fname}({var})")
        fn.lines.append(f"{pad}if e is not None:")
        if fn.entry:
            result = f"_VF({self.path(parts, True, 'e[0]')}, e[1])"
        elif parts:
            result = f"({self.path(parts, False, 'e[0]')}, e[1])"
        else:
            result = "e"
        fn.lines.append(f"{pad}    return {result}")

    def function(self, schema: object, where: str, name: str | None = None) -> str:
        name = name or self.name("_f")
        fn = _Fn(entry=False)
        self.emit(fn, 1, schema, "x", (), where)
        self.defs.append("\n".join([f"def {name}(x):", *fn.lines, "    return None"]))
        return name

    def entry(self) -> str:
        fn = _Fn(entry=True)
        self.emit(fn, 2, self.root, "x", (), "#")
        body = fn.lines or ["        pass"]
        return "\n".join(
            [
                "def validate(x):",
                "    try:",
                *body,
                "    except RecursionError:",
                "        return _VF('$', 'value is nested too deeply to validate')",
                # Non-JSON Python values (e.g. non-str keys) must not crash the forwarder.
                "    except Exception as exc:",
                "        return _VF('$', 'cannot validate value: ' + type(exc).__name__)",
                "    return None",
            ]
        )

    # --- one subschema, inline ---

    def emit(self, fn: _Fn, ind: int, schema: object, var: str, parts: tuple, where: str) -> None:
        if schema is True:
            return
        if schema is False:
            self.fail(fn, ind, parts, "'no value is allowed here'")
            return
        if not isinstance(schema, dict):
            raise SchemaError(f"{where}: a schema must be an object or a boolean")
        if ind > _MAX_INLINE:
            self.call(fn, ind, self.function(schema, where), var, parts)
            return
        if self.modern:
            blocker = next((k for k in schema if k in _MODERN_BLOCKERS), None)
            if blocker or isinstance(schema.get("items"), list):
                raise Unsupported(blocker or "items")
            if "$ref" in schema and any(k in KEYWORDS for k in schema if k != "$ref"):
                raise Unsupported("$ref")
        if "$ref" in schema:
            self.ref(fn, ind, schema["$ref"], var, parts, where)
            return
        known = self.type_check(fn, ind, schema, var, parts, where) if "type" in schema else None
        groups: list[tuple[str, list[str]]] = []
        for key in schema:
            cls = _KEYWORD_CLASS.get(key)
            if cls is None:
                continue
            if groups and groups[-1][0] == cls:
                groups[-1][1].append(key)
            else:
                groups.append((cls, [key]))
        for cls, keys in groups:
            target, at, guard = fn, ind, ()
            if cls != "any":
                types = _CLASS_TYPES[cls]
                if known is not None and not known & types:
                    target = _Fn(fn.entry)  # cannot apply: compile to check it, then drop it
                elif known is None or not known <= types:
                    guard, at = (f"{'    ' * ind}if {_GUARD[cls].format(v=var)}:",), ind + 1
            with self.block(target, *guard):
                for key in keys:
                    getattr(self, "kw_" + key)(
                        target, at, schema[key], schema, var, parts, _pointer(where, key)
                    )

    def type_check(self, fn, ind, schema, var, parts, where) -> frozenset[str]:
        value = schema["type"]
        names = [value] if isinstance(value, str) else value
        if (
            not isinstance(names, list)
            or not names
            or any(not isinstance(n, str) or n not in _TYPE_OK for n in names)
        ):
            raise SchemaError(f"{where}/type: must be a JSON type name or a non-empty list of them")
        if "number" in names:
            names = [n for n in names if n != "integer"]
        if len(names) == 1:
            bad = _TYPE_BAD[names[0]].format(v=var)
        else:
            bad = "not (" + " or ".join(_TYPE_OK[n].format(v=var) for n in names) + ")"
        fn.lines.append(f"{'    ' * ind}if {bad}:")
        expected = repr("expected " + " or ".join(names) + ", got ")
        self.fail(fn, ind + 1, parts, f"{expected} + _tn({var})")
        known = frozenset(names)
        return known | {"integer"} if "number" in known else known

    def ref(self, fn, ind, ref, var, parts, where) -> None:
        if not isinstance(ref, str):
            raise SchemaError(f"{where}/$ref: must be a string")
        fname = self.refs.get(ref)
        if fname is None:
            base, _, fragment = ref.partition("#")
            if base and base != self.root.get("$id"):
                raise SchemaError(f"{where}/$ref: only local references are supported, not {ref!r}")
            if fragment and not fragment.startswith("/"):
                raise Unsupported("$ref")
            target: object = self.root
            for token in fragment.split("/")[1:]:
                token = unquote(token).replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and token in target:
                    target = target[token]
                elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                    target = target[int(token)]
                else:
                    raise SchemaError(f"{where}/$ref: cannot resolve {ref!r}")
            fname = self.refs[ref] = self.name("_r")
            self.function(target, "#" + fragment, fname)
        self.call(fn, ind, fname, var, parts)

    def trivial(self, schema: object) -> bool:
        """True for schemas that accept everything (no validation keyword)."""
        if schema is True:
            return True
        if not isinstance(schema, dict) or "$ref" in schema:
            return False
        active = [k for k in schema if k in _KEYWORD_CLASS or k == "type"]
        return not active or (active == ["if"] and "then" not in schema and "else" not in schema)

    def schema_list(self, value, where) -> list:
        if not isinstance(value, list) or not value:
            raise SchemaError(f"{where}: must be a non-empty list of schemas")
        return value

    # --- keywords: kw_<name>(fn, ind, value, schema, var, parts, where) ---

    def kw_enum(self, fn, ind, value, schema, var, parts, where):
        if not isinstance(value, list):
            raise SchemaError(f"{where}: must be a list")
        shown = "[" + ", ".join(_show(member) for member in value) + "]"
        message = repr(" is not one of " + (shown if len(shown) <= 200 else shown[:196] + "...]"))
        if value and all(type(member) is str for member in value):
            members = self.const(frozenset(value))
            bad = f"type({var}) is not str or {var} not in {members}"
        else:
            bad = f"not _in({var}, {self.const(tuple(value))})"
        fn.lines.append(f"{'    ' * ind}if {bad}:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {message}")

    def kw_const(self, fn, ind, value, schema, var, parts, where):
        if type(value) is str:
            bad = f"type({var}) is not str or {var} != {self.lit(value)}"
        else:
            bad = f"not _equal({var}, {self.const(value)})"
        fn.lines.append(f"{'    ' * ind}if {bad}:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {repr(' is not ' + _show(value))}")

    def bound(self, fn, ind, value, var, parts, where, op: str, words: str) -> None:
        if type(value) is not int and type(value) is not float:
            raise SchemaError(f"{where}: must be a number")
        fn.lines.append(f"{'    ' * ind}if {var} {op} {self.lit(value)}:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {repr(f' is {words} {value!r}')}")

    def kw_minimum(self, fn, ind, value, schema, var, parts, where):
        self.bound(fn, ind, value, var, parts, where, "<", "less than the minimum of")

    def kw_maximum(self, fn, ind, value, schema, var, parts, where):
        self.bound(fn, ind, value, var, parts, where, ">", "greater than the maximum of")

    def kw_exclusiveMinimum(self, fn, ind, value, schema, var, parts, where):
        self.bound(fn, ind, value, var, parts, where, "<=", "not greater than")

    def kw_exclusiveMaximum(self, fn, ind, value, schema, var, parts, where):
        self.bound(fn, ind, value, var, parts, where, ">=", "not less than")

    def kw_multipleOf(self, fn, ind, value, schema, var, parts, where):
        if (type(value) is not int and type(value) is not float) or not value > 0:
            raise SchemaError(f"{where}: must be a number greater than 0")
        if type(value) is int:
            bad = f"{var} % {self.lit(value)}"
        else:
            bad = f"_nm({var}, {self.lit(value)})"
        fn.lines.append(f"{'    ' * ind}if {bad}:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {repr(f' is not a multiple of {value!r}')}")

    def natural(self, value, where) -> int:
        if type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not int or value < 0:
            raise SchemaError(f"{where}: must be a non-negative integer")
        return value

    def length(self, fn, ind, value, var, parts, where, op: str, text: str) -> None:
        limit = self.natural(value, where)
        fn.lines.append(f"{'    ' * ind}if len({var}) {op} {limit}:")
        self.fail(fn, ind + 1, parts, repr(text.format(limit)) + f" + str(len({var}))")

    def kw_minLength(self, fn, ind, value, schema, var, parts, where):
        self.length(fn, ind, value, var, parts, where, "<", "expected at least {} characters, got ")

    def kw_maxLength(self, fn, ind, value, schema, var, parts, where):
        self.length(fn, ind, value, var, parts, where, ">", "expected at most {} characters, got ")

    def regex(self, pattern, where) -> str:
        if not isinstance(pattern, str):
            raise SchemaError(f"{where}: must be a regular expression string")
        try:
            return self.const(re.compile(pattern).search)
        except re.error as exc:
            raise SchemaError(f"{where}: invalid regular expression {pattern!r}: {exc}") from None

    def kw_pattern(self, fn, ind, value, schema, var, parts, where):
        fn.lines.append(f"{'    ' * ind}if {self.regex(value, where)}({var}) is None:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {repr(' does not match ' + repr(value))}")

    def kw_items(self, fn, ind, value, schema, var, parts, where):
        pad = "    " * ind
        if isinstance(value, list):
            for index, sub in enumerate(value):
                if self.trivial(sub):
                    continue
                item = self.name("v")
                with self.block(
                    fn, f"{pad}if len({var}) > {index}:", f"{pad}    {item} = {var}[{index}]"
                ):
                    at = _pointer(where, index)
                    self.emit(fn, ind + 1, sub, item, (*parts, ("s", f"[{index}]")), at)
        elif not self.trivial(value):
            index, item = self.name("i"), self.name("v")
            with self.block(fn, f"{pad}for {index}, {item} in enumerate({var}):"):
                step = ("d", f"'[' + str({index}) + ']'")
                self.emit(fn, ind + 1, value, item, (*parts, step), where)

    def kw_additionalItems(self, fn, ind, value, schema, var, parts, where):
        items = schema.get("items")
        if not isinstance(items, list) or self.trivial(value):
            return  # jsonschema ignores additionalItems unless items is a list
        pad, n = "    " * ind, len(items)
        if value is False:
            fn.lines.append(f"{pad}if len({var}) > {n}:")
            message = repr(f"expected at most {n} items, got ") + f" + str(len({var}))"
            self.fail(fn, ind + 1, parts, message)
            return
        index, item = self.name("i"), self.name("v")
        loop = (f"{pad}for {index} in range({n}, len({var})):", f"{pad}    {item} = {var}[{index}]")
        with self.block(fn, *loop):
            step = ("d", f"'[' + str({index}) + ']'")
            self.emit(fn, ind + 1, value, item, (*parts, step), where)

    def kw_minItems(self, fn, ind, value, schema, var, parts, where):
        self.length(fn, ind, value, var, parts, where, "<", "expected at least {} items, got ")

    def kw_maxItems(self, fn, ind, value, schema, var, parts, where):
        self.length(fn, ind, value, var, parts, where, ">", "expected at most {} items, got ")

    def kw_uniqueItems(self, fn, ind, value, schema, var, parts, where):
        if type(value) is not bool:
            raise SchemaError(f"{where}: must be a boolean")
        if value:
            fn.lines.append(f"{'    ' * ind}if len({var}) > 1 and not _unique({var}):")
            self.fail(fn, ind + 1, parts, "'array items are not unique'")

    def kw_contains(self, fn, ind, value, schema, var, parts, where):
        pad, item = "    " * ind, self.name("v")
        check = self.function(value, where)
        fn.lines.append(f"{pad}for {item} in {var}:")
        fn.lines.append(f"{pad}    if {check}({item}) is None:")
        fn.lines.append(f"{pad}        break")
        fn.lines.append(f"{pad}else:")
        self.fail(fn, ind + 1, parts, "'no item matches the contains schema'")

    def kw_properties(self, fn, ind, value, schema, var, parts, where):
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: must be an object")
        pad = "    " * ind
        for prop, sub in value.items():
            if self.trivial(sub):
                continue
            item, name = self.name("v"), self.lit(prop)
            with self.block(fn, f"{pad}if {name} in {var}:", f"{pad}    {item} = {var}[{name}]"):
                at = _pointer(where, prop)
                self.emit(fn, ind + 1, sub, item, (*parts, ("s", path_step(prop))), at)

    def kw_required(self, fn, ind, value, schema, var, parts, where):
        if not isinstance(value, list) or any(type(p) is not str for p in value):
            raise SchemaError(f"{where}: must be a list of property names")
        for prop in value:
            fn.lines.append(f"{'    ' * ind}if {self.lit(prop)} not in {var}:")
            self.fail(fn, ind + 1, parts, repr("missing required property " + _show(prop)))

    def kw_additionalProperties(self, fn, ind, value, schema, var, parts, where):
        if self.trivial(value):
            return
        known = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        if not isinstance(known, dict) or not isinstance(patterns, dict):
            return  # reported by properties / patternProperties
        pad, names = "    " * ind, self.const(frozenset(known))
        key = self.name("k")
        if patterns:  # jsonschema matches the alternation of all the patterns
            rx = self.regex("|".join(patterns), _pointer(where[: where.rfind("/")], "pattern"))
            extra = f"{key} not in {names} and {rx}({key}) is None"
        else:
            extra = f"{key} not in {names}"
        if value is False:
            if not patterns:  # one C-level pass in the common case
                test = f"{var}" if not known else f"not {names}.issuperset({var})"
                fn.lines.append(f"{pad}if {test}:")
                pad, ind = pad + "    ", ind + 1
            fn.lines.append(f"{pad}for {key} in {var}:")
            fn.lines.append(f"{pad}    if {extra}:")
            self.fail(fn, ind + 2, parts, f"'unexpected property ' + _show({key})")
            return
        item = self.name("v")
        with self.block(fn, f"{pad}for {key}, {item} in {var}.items():", f"{pad}    if {extra}:"):
            self.emit(fn, ind + 2, value, item, (*parts, ("d", f"_key({key})")), where)

    def kw_patternProperties(self, fn, ind, value, schema, var, parts, where):
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: must be an object")
        pad = "    " * ind
        for pattern, sub in value.items():
            rx = self.regex(pattern, _pointer(where, pattern))
            if self.trivial(sub):
                continue
            key, item = self.name("k"), self.name("v")
            loop = (
                f"{pad}for {key}, {item} in {var}.items():",
                f"{pad}    if {rx}({key}) is not None:",
            )
            with self.block(fn, *loop):
                at = _pointer(where, pattern)
                self.emit(fn, ind + 2, sub, item, (*parts, ("d", f"_key({key})")), at)

    def kw_minProperties(self, fn, ind, value, schema, var, parts, where):
        self.length(fn, ind, value, var, parts, where, "<", "expected at least {} properties, got ")

    def kw_maxProperties(self, fn, ind, value, schema, var, parts, where):
        self.length(fn, ind, value, var, parts, where, ">", "expected at most {} properties, got ")

    def kw_propertyNames(self, fn, ind, value, schema, var, parts, where):
        if self.trivial(value):
            return
        key = self.name("k")
        with self.block(fn, f"{'    ' * ind}for {key} in {var}:"):
            self.emit(fn, ind + 1, value, key, parts, where)

    def kw_dependencies(self, fn, ind, value, schema, var, parts, where):
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: must be an object")
        pad = "    " * ind
        for prop, dep in value.items():
            if isinstance(dep, list):
                if any(type(d) is not str for d in dep):
                    raise SchemaError(f"{_pointer(where, prop)}: must list property names")
                for needed in dep:
                    fn.lines.append(
                        f"{pad}if {self.lit(prop)} in {var} and {self.lit(needed)} not in {var}:"
                    )
                    message = f"missing property {_show(needed)} required by {_show(prop)}"
                    self.fail(fn, ind + 1, parts, repr(message))
            elif not self.trivial(dep):
                with self.block(fn, f"{pad}if {self.lit(prop)} in {var}:"):
                    self.emit(fn, ind + 1, dep, var, parts, _pointer(where, prop))

    def kw_allOf(self, fn, ind, value, schema, var, parts, where):
        for index, sub in enumerate(self.schema_list(value, where)):
            self.emit(fn, ind, sub, var, parts, _pointer(where, index))

    def branches(self, value, where) -> list[str]:
        subs = self.schema_list(value, where)
        return [self.function(sub, _pointer(where, i)) for i, sub in enumerate(subs)]

    def kw_anyOf(self, fn, ind, value, schema, var, parts, where):
        names = self.branches(value, where)
        if any(self.trivial(sub) for sub in value):
            return
        fn.lines.append(
            f"{'    ' * ind}if " + " and ".join(f"{n}({var}) is not None" for n in names) + ":"
        )
        self.fail(fn, ind + 1, parts, f"_show({var}) + ' matches none of the anyOf schemas'")

    def kw_oneOf(self, fn, ind, value, schema, var, parts, where):
        names = self.branches(value, where)
        pad = "    " * ind
        fn.lines.append(f"{pad}c = " + " + ".join(f"({n}({var}) is None)" for n in names))
        fn.lines.append(f"{pad}if c != 1:")
        how = "(' matches none of' if c == 0 else ' matches more than one of')"
        self.fail(fn, ind + 1, parts, f"_show({var}) + {how} + ' the oneOf schemas'")

    def kw_not(self, fn, ind, value, schema, var, parts, where):
        check = self.function(value, where)
        fn.lines.append(f"{'    ' * ind}if {check}({var}) is None:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + ' must not match the not schema'")

    def kw_if(self, fn, ind, value, schema, var, parts, where):
        if "then" not in schema and "else" not in schema:
            return
        pad, base = "    " * ind, where[: where.rfind("/")]
        fn.lines.append(f"{pad}if {self.function(value, where)}({var}) is None:")
        for branch, header in (("then", None), ("else", f"{pad}else:")):
            if header:
                fn.lines.append(header)
            before = len(fn.lines)
            self.emit(fn, ind + 1, schema.get(branch, True), var, parts, _pointer(base, branch))
            if len(fn.lines) == before:
                fn.lines.append(f"{pad}    pass")


def compile_validator(schema: dict, *, modern: bool = False, label: str = "schema") -> Validator:
    """Generate and compile the validator for a draft-07 ``schema``.

    ``modern`` marks a draft 2019-09/2020-12 schema: compiled only when it avoids the keywords
    whose meaning changed (else ``Unsupported``).  Broken schemas raise ``SchemaError``.
    """
    gen = _Gen(schema, modern)
    source = "\n\n".join([gen.entry(), *gen.defs]) + "\n"
    code = compile(source, f"<{label}>", "exec")
    namespace = gen.ns
    exec(code, namespace)  # noqa: S102 - source generated from the schema above
    validate = namespace["validate"]
    validate.source = source  # for debugging: print(compiled.validate.source)
    return validate
