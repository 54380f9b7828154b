"""The Python source of one validator as it is written: functions, constants, failure paths.

Keyword emitters (``el_monitor.schema.keywords``) and the schema walk
(``el_monitor.schema.generator``) write through these primitives, so how a failure is
returned, how a path is spelt and how a helper function is called is decided in one place.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from el_monitor.event.jsontext import decoded_key
from el_monitor.schema.runtime import NAMESPACE

# A step of a failure's path: ("s", static JSONPath text) or ("d", a Python str expression).
Step = tuple[str, str]
Steps = tuple[Step, ...]


def pointer(where: str, key: object) -> str:
    """``where`` (a JSON pointer into the schema, for error messages) extended by ``key``."""
    return f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"


class Fn:
    """One generated function: its lines and whether it is the public entry.

    The entry returns a ``ValidationFailure`` with an absolute path; helpers return
    ``(relative_path, message)`` tuples that their caller prefixes.
    """

    def __init__(self, entry: bool) -> None:
        self.lines: list[str] = []
        self.entry = entry


class CodeWriter(ABC):
    """Names, constants and statements shared by every function of one generated validator."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = dict(NAMESPACE)  # the generated module's globals, for exec
        self.defs: list[str] = []
        self.count = 0
        self.keys: dict[str, str] = {}  # property name -> the global holding it

    @abstractmethod
    def emit(self, fn: Fn, ind: int, schema: object, var: str, parts: Steps, where: str) -> None:
        """Write the checks of ``schema`` on variable ``var`` (the schema walk provides it)."""

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, value: object) -> str:
        name = self.name("_k")
        self.ns[name] = value
        return name

    def lit(self, value: object) -> str:
        """A Python expression for a schema constant (literal when it round-trips)."""
        simple = type(value) is str or type(value) is bool or value is None
        if simple or (type(value) is int and value.bit_length() < 63):
            return repr(value)
        if type(value) is float and math.isfinite(value):
            return repr(value)
        return self.const(value)

    def key(self, prop: object) -> str:
        """A Python expression for the property name ``prop`` as a dict key: a global bound
        to the str object decoded events hold (``decoded_key``), so that ``in`` and ``[]``
        on them match by identity; named after the property when it is an identifier."""
        if type(prop) is not str:
            return self.lit(prop)
        name = self.keys.get(prop)
        if name is None:
            name = f"_p_{prop}" if prop.isidentifier() and prop.isascii() else self.name("_p")
            self.ns[name] = decoded_key(prop)
            self.keys[prop] = name
        return name

    @staticmethod
    def path(parts: Steps, entry: bool, tail: str = "") -> str:
        """A Python expression for the failure path ``parts`` (+ the expression ``tail``)."""
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

    def fail(self, fn: Fn, ind: int, parts: Steps, message: str) -> None:
        path = self.path(parts, fn.entry)
        result = f"_VF({path}, {message})" if fn.entry else f"({path}, {message})"
        fn.lines.append(f"{'    ' * ind}return {result}")

    @contextmanager
    def block(self, fn: Fn, *prelude: str) -> Iterator[None]:
        """Lines opening a block; dropped again if the body emits nothing."""
        start = len(fn.lines)
        fn.lines.extend(prelude)
        mark = len(fn.lines)
        yield
        if len(fn.lines) == mark:
            del fn.lines[start:]

    def call(self, fn: Fn, ind: int, fname: str, var: str, parts: Steps) -> None:
        """Call the generated function ``fname`` on ``var``, returning its failure if any."""
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
        """Compile ``schema`` into a helper function of its own; returns its name."""
        name = name or self.name("_f")
        fn = Fn(entry=False)
        self.emit(fn, 1, schema, "x", (), where)
        self.defs.append("\n".join([f"def {name}(x):", *fn.lines, "    return None"]))
        return name
