"""Compile a draft-07 JSON Schema into specialised Python source, once per schema.

The forwarder validates every event, so an interpreter walking the schema per event (what the
``jsonschema`` package does) is far too slow.  Like fastjsonschema, we generate straight-line
Python for each schema and ``exec`` it: type tests become ``type(v) is str``, properties become
``in`` tests, enums become frozenset lookups.  The verdicts equal ``jsonschema.Draft7Validator``'s
for JSON-decoded values (dict, list, str, int, float, bool, None).

This module walks the schema (types, ``$ref``, which keywords apply to which types); the checks
of each keyword are in ``el_monitor.schema.keywords``, the source-writing primitives in
``el_monitor.schema.codewriter`` and what the generated code calls in ``el_monitor.schema.runtime``.

Generated helpers return ``None`` or ``(relative_path, message)``; the entry function turns the
first failure into a ``ValidationFailure``.  Recursion follows the schema only (``$ref`` targets
are functions), never the data, and the entry never raises: a value that defeats the validator
(recursion through a recursive ``$ref``, a non-JSON Python object) is reported as invalid.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

from el_monitor.errors import SchemaError
from el_monitor.schema.codewriter import Fn, Steps, pointer
from el_monitor.schema.keywords import KEYWORD_CLASS, KEYWORDS, KeywordEmitters, Schema
from el_monitor.schema.runtime import Validator


class Unsupported(Exception):
    """The schema needs a feature we do not compile; the caller falls back to ``jsonschema``."""


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
            elif key not in ("enum", "const") and (key in KEYWORD_CLASS or key in ("then", "else")):
                stack.append(value)


class _Generator(KeywordEmitters):
    """One schema's validator being generated: the walk over its subschemas."""

    def __init__(self, root: Schema, modern: bool) -> None:
        super().__init__()
        self.root = root
        self.modern = modern
        self.refs: dict[str, str] = {}
        nodes = list(subschemas(root))
        has_ref = any("$ref" in node for node in nodes)
        if has_ref and any("$id" in node for node in nodes if node is not root):
            raise Unsupported("$id")  # embedded $id changes what '#' means below it

    def entry(self) -> str:
        """The public ``validate`` function: the root schema inline, and it never raises."""
        fn = Fn(entry=True)
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

    def emit(self, fn: Fn, ind: int, schema: object, var: str, parts: Steps, where: str) -> None:
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
            cls = KEYWORD_CLASS.get(key)
            if cls is None:
                continue
            if groups and groups[-1][0] == cls:
                groups[-1][1].append(key)
            else:
                groups.append((cls, [key]))
        for cls, keys in groups:
            target, at = fn, ind
            guard: tuple[str, ...] = ()
            if cls != "any":
                types = _CLASS_TYPES[cls]
                if known is not None and not known & types:
                    target = Fn(fn.entry)  # cannot apply: compile to check it, then drop it
                elif known is None or not known <= types:
                    guard, at = (f"{'    ' * ind}if {_GUARD[cls].format(v=var)}:",), ind + 1
            with self.block(target, *guard):
                for key in keys:
                    getattr(self, "kw_" + key)(
                        target, at, schema[key], schema, var, parts, pointer(where, key)
                    )

    def type_check(
        self, fn: Fn, ind: int, schema: Schema, var: str, parts: Steps, where: str
    ) -> frozenset[str]:
        """The ``type`` test; returns the types a value can have past it, so keyword groups
        for other types are dropped and those for these types need no guard."""
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

    def ref(self, fn: Fn, ind: int, ref: object, var: str, parts: Steps, where: str) -> None:
        """A local ``$ref``: a call of the function generated once per target."""
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


def compile_validator(schema: Schema, *, modern: bool = False, label: str = "schema") -> Validator:
    """Generate and compile the validator for a draft-07 ``schema``.

    ``modern`` marks a draft 2019-09/2020-12 schema: compiled only when it avoids the keywords
    whose meaning changed (else ``Unsupported``).  Broken schemas raise ``SchemaError``.
    """
    gen = _Generator(schema, modern)
    source = "\n\n".join([gen.entry(), *gen.defs]) + "\n"
    code = compile(source, f"<{label}>", "exec")
    namespace = gen.ns
    exec(code, namespace)  # noqa: S102 - source generated from the schema above
    validate = namespace["validate"]
    validate.source = source  # for debugging: print(compiled.validate.source)
    return validate
