"""A batch's rows as the text ``LOAD DATA`` reads (``LOAD_FORMAT``): JSON arrays, made in C.

Each row is its JSON array without the brackets, ended by ``],[``: LOAD DATA reads it as
comma-separated fields, strings enclosed in double quotes (a ``,`` or ``],[`` inside one is
text), ``\\"`` and ``\\\\`` as JSON means them.  ``orjson`` writes a few hundred rows at once:
with the checks below, 1.7 µs a real 53-column NavigationTiming row, where building the text
value by value in Python took 5.8 µs (a quarter of the forwarder's time into MariaDB).

JSON says some things LOAD DATA reads otherwise, so the rows hold none of them: where an event
has no value, ``NULL`` (the MySQL store's ``empty``), which orjson writes as LOAD DATA's NULL;
booleans become 1 and 0 before writing, as the INSERTs store them.  Rows whose JSON still holds
such a word (``null``, ``true``, ``false``: a None, a boolean where no boolean column is, or a
string that says so), an escape LOAD DATA reads as a letter (``\\f``, ``\\uXXXX``: a control
character), an object or a nested array, or that JSON cannot say (a big int, NaN, a lone
surrogate), are written value by value in the same format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from el_monitor.store.mapping import BOOLEAN, Row, StoreError, TableLayout

NULL = orjson.Fragment(b"NULL")
"""What a MySQL row holds where the event has no value: orjson writes it as the NULL LOAD DATA
reads, and the INSERTs as NULL."""

LOAD_FORMAT = (
    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\' "
    "LINES TERMINATED BY '],['"
)
_ROW_END = b"],["
_WORDS = (b"null", b"true", b"false")  # JSON's, which LOAD DATA would read as text
_LETTER_ESCAPES = (b"\\f", b"\\u")  # JSON's escapes that LOAD DATA reads as the letter
# A value's text, value by value: strings quoted and escaped (backslash first), NULL, booleans
# as 1 and 0.
_ESCAPES = (
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\0", "\\0"),
)
_TEXT: dict[type, Callable[[Any], str]] = {
    int: int.__repr__,
    float: float.__repr__,
    bool: ("0", "1").__getitem__,
    type(NULL): lambda _: "NULL",
    type(None): lambda _: "NULL",
}


def boolean_positions(layout: TableLayout) -> tuple[int, ...]:
    """Where ``layout``'s rows hold booleans (the only place a validated event puts them)."""
    return tuple(i for i, column in enumerate(layout.columns) if column.kind == BOOLEAN)


def load_text(rows: Sequence[Row], booleans: Sequence[int] = ()) -> bytes:
    """The rows in ``LOAD_FORMAT``, UTF-8; the booleans at ``booleans`` (``boolean_positions``)
    become 1 and 0 in the rows themselves.  Raises StoreError for a value of a type no
    column holds, UnicodeEncodeError for a string that is not valid Unicode."""
    for row in rows:
        for position in booleans:
            value = row[position]
            if value.__class__ is bool:
                row[position] = int(value)
    text = _json_rows(rows)
    if text is None:  # a row JSON does not say right: the others still are, one at a time
        text = b"".join([_json_rows([row]) or _escaped_row(row) for row in rows])
    return text


def _json_rows(rows: Sequence[Row]) -> bytes | None:
    """The rows' JSON as LOAD DATA text, or None when LOAD DATA would read it otherwise."""
    try:
        body = orjson.dumps(rows)
    except TypeError:  # a big int, a lone surrogate, a type JSON has no word for
        return None
    if (
        body.count(b"[") != len(rows) + 1  # the rows' own arrays, and the one around them
        or b"{" in body
        or any(word in body for word in _WORDS)
        or b"\\" in body
        and any(escape in body for escape in _LETTER_ESCAPES)
    ):
        return None
    return body[2:-2] + _ROW_END


def _escaped_row(row: Row) -> bytes:
    """One row in ``LOAD_FORMAT``, value by value."""
    return ",".join([_field(value) for value in row]).encode() + _ROW_END


def _field(value: Any) -> str:
    """One value as LOAD DATA reads it back: a string quoted and escaped, NULL, a number."""
    if value.__class__ is str:
        for char, escaped in _ESCAPES:
            if char in value:
                value = value.replace(char, escaped)
        return f'"{value}"'
    try:
        return _TEXT[value.__class__](value)
    except KeyError:
        raise StoreError(f"cannot store a {value.__class__.__name__} value") from None
