"""One emitter per draft-07 validation keyword: the checks it adds to a generated validator.

Each ``kw_<keyword>(fn, ind, value, schema, var, parts, where)`` writes, at indentation
``ind`` of ``fn``, the test of keyword value ``value`` (from ``schema``) on the variable
``var``, failing at path ``parts``; ``where`` names the keyword in the schema for errors.  A
malformed keyword value raises ``SchemaError`` at compile time, never at validation time.
"""

from __future__ import annotations

import re

from el_monitor.errors import SchemaError
from el_monitor.event.jsontext import decoded_key
from el_monitor.schema.codewriter import CodeWriter, Fn, Steps, pointer
from el_monitor.schema.runtime import path_step, show

# Keywords grouped by the JSON type they apply to; "any" keywords apply to every value.
KEYWORD_CLASS = {
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
KEYWORDS = frozenset(KEYWORD_CLASS) | {"type", "$ref", "then", "else"}

Schema = dict[str, object]  # a (sub)schema object, as decoded from JSON
_DIGIT = 2**30 - 1  # the largest int CPython compares as one machine digit


class KeywordEmitters(CodeWriter):
    """The per-keyword half of the generator; the schema walk that calls it is its subclass."""

    def trivial(self, schema: object) -> bool:
        """True for schemas that accept everything (no validation keyword)."""
        if schema is True:
            return True
        if not isinstance(schema, dict) or "$ref" in schema:
            return False
        active = [k for k in schema if k in KEYWORD_CLASS or k == "type"]
        return not active or (active == ["if"] and "then" not in schema and "else" not in schema)

    def schema_list(self, value: object, where: str) -> list[object]:
        if not isinstance(value, list) or not value:
            raise SchemaError(f"{where}: must be a non-empty list of schemas")
        return value

    def kw_enum(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if not isinstance(value, list):
            raise SchemaError(f"{where}: must be a list")
        shown = "[" + ", ".join(show(member) for member in value) + "]"
        message = repr(" is not one of " + (shown if len(shown) <= 200 else shown[:196] + "...]"))
        if value and all(type(member) is str for member in value):
            members = self.const(frozenset(value))
            bad = f"type({var}) is not str or {var} not in {members}"
        else:
            bad = f"not _in({var}, {self.const(tuple(value))})"
        fn.lines.append(f"{'    ' * ind}if {bad}:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {message}")

    def kw_const(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if type(value) is str:
            bad = f"type({var}) is not str or {var} != {self.lit(value)}"
        else:
            bad = f"not _equal({var}, {self.const(value)})"
        fn.lines.append(f"{'    ' * ind}if {bad}:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {repr(' is not ' + show(value))}")

    def bound(
        self, fn: Fn, ind: int, value: object, var: str, parts: Steps, where: str, op: str,
        words: str,
    ) -> None:  # fmt: skip
        """``minimum`` and its kin: compare ``var`` with the number ``value`` by ``op``."""
        if type(value) is not int and type(value) is not float:
            raise SchemaError(f"{where}: must be a number")
        test = f"{var} {op} {self.lit(value)}"
        # CPython compares an int with a constant of one machine digit (|n| < 2**30) by a
        # specialised instruction, with a larger one (2**53 - 1, the bound JavaScript-minded
        # schemas give their integers) by the generic path: a small bound on the same side
        # first lets nearly every value through on the fast compare, with the same verdict.
        if op[0] == ">" and value > _DIGIT:
            test = f"{var} > {_DIGIT} and {test}"
        elif op[0] == "<" and value < -_DIGIT:
            test = f"{var} < {-_DIGIT} and {test}"
        fn.lines.append(f"{'    ' * ind}if {test}:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {repr(f' is {words} {value!r}')}")

    def kw_minimum(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.bound(fn, ind, value, var, parts, where, "<", "less than the minimum of")

    def kw_maximum(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.bound(fn, ind, value, var, parts, where, ">", "greater than the maximum of")

    def kw_exclusiveMinimum(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.bound(fn, ind, value, var, parts, where, "<=", "not greater than")

    def kw_exclusiveMaximum(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.bound(fn, ind, value, var, parts, where, ">=", "not less than")

    def kw_multipleOf(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if (type(value) is not int and type(value) is not float) or not value > 0:
            raise SchemaError(f"{where}: must be a number greater than 0")
        if type(value) is int:
            bad = f"{var} % {self.lit(value)}"
        else:
            bad = f"_nm({var}, {self.lit(value)})"
        fn.lines.append(f"{'    ' * ind}if {bad}:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {repr(f' is not a multiple of {value!r}')}")

    def natural(self, value: object, where: str) -> int:
        if type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not int or value < 0:
            raise SchemaError(f"{where}: must be a non-negative integer")
        return value

    def length(
        self, fn: Fn, ind: int, value: object, var: str, parts: Steps, where: str, op: str,
        text: str,
    ) -> None:  # fmt: skip
        """``minLength`` and its kin: compare ``len(var)`` with the count ``value`` by ``op``."""
        limit = self.natural(value, where)
        fn.lines.append(f"{'    ' * ind}if len({var}) {op} {limit}:")
        self.fail(fn, ind + 1, parts, repr(text.format(limit)) + f" + str(len({var}))")

    def kw_minLength(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.length(fn, ind, value, var, parts, where, "<", "expected at least {} characters, got ")

    def kw_maxLength(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.length(fn, ind, value, var, parts, where, ">", "expected at most {} characters, got ")

    def regex(self, pattern: object, where: str) -> str:
        if not isinstance(pattern, str):
            raise SchemaError(f"{where}: must be a regular expression string")
        try:
            return self.const(re.compile(pattern).search)
        except re.error as exc:
            raise SchemaError(f"{where}: invalid regular expression {pattern!r}: {exc}") from None

    def kw_pattern(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        fn.lines.append(f"{'    ' * ind}if {self.regex(value, where)}({var}) is None:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + {repr(' does not match ' + repr(value))}")

    def kw_items(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        pad = "    " * ind
        if isinstance(value, list):
            for index, sub in enumerate(value):
                if self.trivial(sub):
                    continue
                item = self.name("v")
                with self.block(
                    fn, f"{pad}if len({var}) > {index}:", f"{pad}    {item} = {var}[{index}]"
                ):
                    at = pointer(where, index)
                    self.emit(fn, ind + 1, sub, item, (*parts, ("s", f"[{index}]")), at)
        elif not self.trivial(value):
            counter, item = self.name("i"), self.name("v")
            with self.block(fn, f"{pad}for {counter}, {item} in enumerate({var}):"):
                step = ("d", f"'[' + str({counter}) + ']'")
                self.emit(fn, ind + 1, value, item, (*parts, step), where)

    def kw_additionalItems(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
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

    def kw_minItems(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.length(fn, ind, value, var, parts, where, "<", "expected at least {} items, got ")

    def kw_maxItems(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.length(fn, ind, value, var, parts, where, ">", "expected at most {} items, got ")

    def kw_uniqueItems(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if type(value) is not bool:
            raise SchemaError(f"{where}: must be a boolean")
        if value:
            fn.lines.append(f"{'    ' * ind}if len({var}) > 1 and not _unique({var}):")
            self.fail(fn, ind + 1, parts, "'array items are not unique'")

    def kw_contains(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        pad, item = "    " * ind, self.name("v")
        check = self.function(value, where)
        fn.lines.append(f"{pad}for {item} in {var}:")
        fn.lines.append(f"{pad}    if {check}({item}) is None:")
        fn.lines.append(f"{pad}        break")
        fn.lines.append(f"{pad}else:")
        self.fail(fn, ind + 1, parts, "'no item matches the contains schema'")

    def kw_properties(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: must be an object")
        pad = "    " * ind
        for prop, sub in value.items():
            if self.trivial(sub):
                continue
            item, name = self.name("v"), self.key(prop)
            with self.block(fn, f"{pad}if {name} in {var}:", f"{pad}    {item} = {var}[{name}]"):
                at = pointer(where, prop)
                self.emit(fn, ind + 1, sub, item, (*parts, ("s", path_step(prop))), at)

    def kw_required(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if not isinstance(value, list) or any(type(p) is not str for p in value):
            raise SchemaError(f"{where}: must be a list of property names")
        for prop in value:
            fn.lines.append(f"{'    ' * ind}if {self.key(prop)} not in {var}:")
            self.fail(fn, ind + 1, parts, repr("missing required property " + show(prop)))

    def kw_additionalProperties(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if self.trivial(value):
            return
        known = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        if not isinstance(known, dict) or not isinstance(patterns, dict):
            return  # reported by properties / patternProperties
        pad, names = "    " * ind, self.const(frozenset(map(decoded_key, known)))
        key = self.name("k")
        if patterns:  # jsonschema matches the alternation of all the patterns
            rx = self.regex("|".join(patterns), pointer(where[: where.rfind("/")], "pattern"))
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

    def kw_patternProperties(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: must be an object")
        pad = "    " * ind
        for pattern, sub in value.items():
            rx = self.regex(pattern, pointer(where, pattern))
            if self.trivial(sub):
                continue
            key, item = self.name("k"), self.name("v")
            loop = (
                f"{pad}for {key}, {item} in {var}.items():",
                f"{pad}    if {rx}({key}) is not None:",
            )
            with self.block(fn, *loop):
                at = pointer(where, pattern)
                self.emit(fn, ind + 2, sub, item, (*parts, ("d", f"_key({key})")), at)

    def kw_minProperties(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.length(fn, ind, value, var, parts, where, "<", "expected at least {} properties, got ")

    def kw_maxProperties(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        self.length(fn, ind, value, var, parts, where, ">", "expected at most {} properties, got ")

    def kw_propertyNames(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if self.trivial(value):
            return
        key = self.name("k")
        with self.block(fn, f"{'    ' * ind}for {key} in {var}:"):
            self.emit(fn, ind + 1, value, key, parts, where)

    def kw_dependencies(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: must be an object")
        pad = "    " * ind
        for prop, dep in value.items():
            if isinstance(dep, list):
                if any(type(d) is not str for d in dep):
                    raise SchemaError(f"{pointer(where, prop)}: must list property names")
                for needed in dep:
                    fn.lines.append(
                        f"{pad}if {self.key(prop)} in {var} and {self.key(needed)} not in {var}:"
                    )
                    message = f"missing property {show(needed)} required by {show(prop)}"
                    self.fail(fn, ind + 1, parts, repr(message))
            elif not self.trivial(dep):
                with self.block(fn, f"{pad}if {self.key(prop)} in {var}:"):
                    self.emit(fn, ind + 1, dep, var, parts, pointer(where, prop))

    def kw_allOf(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        for index, sub in enumerate(self.schema_list(value, where)):
            self.emit(fn, ind, sub, var, parts, pointer(where, index))

    def branches(self, value: object, where: str) -> list[str]:
        subs = self.schema_list(value, where)
        return [self.function(sub, pointer(where, i)) for i, sub in enumerate(subs)]

    def kw_anyOf(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        subs = self.schema_list(value, where)
        names = self.branches(subs, where)
        if any(self.trivial(sub) for sub in subs):
            return
        fn.lines.append(
            f"{'    ' * ind}if " + " and ".join(f"{n}({var}) is not None" for n in names) + ":"
        )
        self.fail(fn, ind + 1, parts, f"_show({var}) + ' matches none of the anyOf schemas'")

    def kw_oneOf(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        names = self.branches(value, where)
        pad = "    " * ind
        fn.lines.append(f"{pad}c = " + " + ".join(f"({n}({var}) is None)" for n in names))
        fn.lines.append(f"{pad}if c != 1:")
        how = "(' matches none of' if c == 0 else ' matches more than one of')"
        self.fail(fn, ind + 1, parts, f"_show({var}) + {how} + ' the oneOf schemas'")

    def kw_not(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        check = self.function(value, where)
        fn.lines.append(f"{'    ' * ind}if {check}({var}) is None:")
        self.fail(fn, ind + 1, parts, f"_show({var}) + ' must not match the not schema'")

    def kw_if(
        self, fn: Fn, ind: int, value: object, schema: Schema, var: str, parts: Steps, where: str
    ) -> None:
        if "then" not in schema and "else" not in schema:
            return
        pad, base = "    " * ind, where[: where.rfind("/")]
        fn.lines.append(f"{pad}if {self.function(value, where)}({var}) is None:")
        for branch, header in (("then", None), ("else", f"{pad}else:")):
            if header:
                fn.lines.append(header)
            before = len(fn.lines)
            self.emit(fn, ind + 1, schema.get(branch, True), var, parts, pointer(base, branch))
            if len(fn.lines) == before:
                fn.lines.append(f"{pad}    pass")
