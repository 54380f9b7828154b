"""Where each key of a TOML file is, so that a problem can be reported as FILE:LINE.

``tomllib`` gives no positions for valid TOML; this small scanner finds the line of every
table header and key, which is all an error message needs.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BASIC_KEY = re.compile(r'"(?:[^"\\]|\\.)*"')
_LITERAL_KEY = re.compile(r"'[^']*'")

KeyPath = tuple[str | int, ...]  # a key path; ints index arrays of tables


def _key_parts(text: str, pos: int) -> tuple[list[str], int] | None:
    """A dotted TOML key starting at ``pos``: its parts and the position after it."""
    parts = []
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        for pattern in (_BARE_KEY, _BASIC_KEY, _LITERAL_KEY):
            found = pattern.match(text, pos)
            if found:
                break
        else:
            return None
        raw = found[0]
        if raw[0] == '"':
            try:
                raw = json.loads(raw)
            except ValueError:
                raw = raw[1:-1]
        elif raw[0] == "'":
            raw = raw[1:-1]
        parts.append(raw)
        pos = found.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, pos


def _scan(text: str, depth: int, open_string: str | None) -> tuple[int, str | None]:
    """Bracket depth and open multi-line string after ``text``, skipping strings and comments.

    Lets ``_Lines`` skip the continuation lines of multi-line arrays and strings, where a
    ``[x]`` or ``key =`` is data, not structure.
    """
    i, end = 0, len(text)
    while i < end:
        if open_string is not None:
            found = text.find(open_string, i)
            if found < 0:
                return depth, open_string
            i, open_string = found + 3, None
            continue
        char = text[i]
        if char == "#":
            break
        if text.startswith(('"""', "'''"), i):
            open_string = text[i : i + 3]
            i += 3
            continue
        if char == '"':
            i += 1
            while i < end and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char == "'":
            found = text.find("'", i + 1)
            i = end if found < 0 else found
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        i += 1
    return depth, open_string


class KeyLines:
    """Line numbers of the table headers and keys of a (syntactically valid) TOML text.

    Good enough for error messages: headers, dotted keys and arrays of tables are tracked, and
    multi-line values skipped; keys inside inline tables share their parent key's line.
    """

    def __init__(self, text: str) -> None:
        self._where: dict[KeyPath, int] = {}
        table: KeyPath = ()
        seen_arrays: dict[KeyPath, int] = {}
        depth, open_string = 0, None
        for number, line in enumerate(text.splitlines(), 1):
            if depth > 0 or open_string is not None:  # inside a multi-line value
                depth, open_string = _scan(line, depth, open_string)
                continue
            stripped = line.lstrip()
            if stripped.startswith("[["):
                parsed = _key_parts(stripped, 2)
                if parsed and stripped.startswith("]]", parsed[1]):
                    path = tuple(parsed[0])
                    index = seen_arrays.get(path, 0)
                    seen_arrays[path] = index + 1
                    table = (*path, index)
                    self._note(table, number)
            elif stripped.startswith("["):
                parsed = _key_parts(stripped, 1)
                if parsed and stripped.startswith("]", parsed[1]):
                    table = tuple(parsed[0])
                    self._note(table, number)
            else:
                parsed = _key_parts(stripped, 0)
                if parsed and stripped[parsed[1] : parsed[1] + 1] == "=":
                    self._note((*table, *parsed[0]), number)
                    depth, open_string = _scan(stripped[parsed[1] + 1 :], 0, None)

    def _note(self, path: KeyPath, number: int) -> None:
        for end in range(1, len(path) + 1):
            self._where.setdefault(path[:end], number)

    def line(self, path: KeyPath) -> int:
        """The line of ``path``, or of its nearest enclosing table or key."""
        while path:
            found = self._where.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return 1


def show_key(path: KeyPath) -> str:
    """``schema.NavigationTiming.aggregate[0].name``; odd names quoted as TOML would."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
            out += f".{text}" if out else text
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)  # ties go to the same name on every run
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:  # names that differ only in case score low with difflib
        lowered = {choice.lower(): choice for choice in choices}
        close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[c] for c in close]
    return f" (did you mean {close[0]!r}?)" if close else ""
