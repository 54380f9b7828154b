"""Reading event rows for a rollup: a window of ids per statement, three values back.

PyMySQL decodes every value of a result in Python, and a server's GROUP BY over text costs
it a temporary table, so a window comes back as one row: its row count, every row's group
as one text (``Dialect.key_text``, joined by ``;``) and every row's measured numbers as one
comma-separated text (``Dialect.number_list``).  numpy parses the numbers in one C call,
as integers when they all are (several times faster than as doubles); Python only maps
each row's group text to a group, and decodes each distinct group once (``decode_key``).
The statement is a consistent read of a short range of the primary key: no locks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from el_monitor.store.base import Store
from el_monitor.store.dialect import NULL_NUMBER
from el_monitor.store.mapping import BIGINT, BOOLEAN, DOUBLE, StoreError

__all__ = [
    "RollupSource",
    "Window",
    "WindowCut",
    "concat_limit",
    "decode_key",
    "id_span",
    "scan_window",
]

_ROWS, _FIELDS = ";", "|"  # between rows' group texts, between a group text's parts
_NULL_INT = int(NULL_NUMBER)


class RollupSource(NamedTuple):
    """One event table read for a rule: its columns for the rule's dimensions, with their
    kinds (mapping's BIGINT … TEXT), and for its measured fields, None where the table lacks
    a measured one (its values count as NULL)."""

    table: str
    dimensions: tuple[str, ...]
    kinds: tuple[str, ...]
    measured: tuple[str | None, ...]


class Window(NamedTuple):
    """The rows of one window of ids: per row its group text (``decode_key`` reads it) and
    its measured values, NaN for NULL (no stored number is NaN: neither engine keeps one)."""

    rows: int
    keys: list[str]
    values: npt.NDArray[np.float64] | None  # rows × measured; None without measured columns


class WindowCut(StoreError):
    """A window's text came back cut (longer than the server gives): read it in parts."""


def id_span(store: Store, table: str, start: str, end: str) -> tuple[int, int] | None:
    """The lowest and highest ``id`` of the rows with ``start <= timestamp < end`` (read
    from the timestamp index alone); None when there are none."""
    q, mark = store.dialect.quote, store.dialect.mark
    ((low, high),) = store.query(
        f"SELECT MIN({q('id')}), MAX({q('id')}) FROM {q(table)} "
        f"WHERE {q('timestamp')} >= {mark} AND {q('timestamp')} < {mark}",
        (start, end),
    )
    return None if low is None else (int(low), int(high))


def concat_limit(store: Store) -> int | None:
    """The longest text the server's ``concat_rows`` gives (MariaDB's group_concat_max_len:
    a longer one comes back cut); None when it gives any length (SQLite)."""
    if store.dialect.concat_limit is None:
        return None
    ((limit,),) = store.query(store.dialect.concat_limit)
    return int(limit)


def scan_window(
    store: Store,
    source: RollupSource,
    period_chars: int,
    span: tuple[str, str, int, int],
    longest: int | None,
) -> Window:
    """The rows with a timestamp in [start, end) and ``after < id <= last``, ``span`` being
    ``(start, end, after, last)``; a group text starts with the timestamp's first
    ``period_chars`` characters (its period).  ``longest``: ``concat_limit``'s answer (a
    text that long raises WindowCut)."""
    dialect = store.dialect
    q, mark = dialect.quote, dialect.mark
    period = f"SUBSTR({q('timestamp')}, 1, {int(period_chars)})"
    keys = dialect.key_text(period, list(zip(source.dimensions, source.kinds, strict=True)))
    numbers = (
        dialect.concat_rows(dialect.number_list(source.measured), ",")
        if source.measured
        else "NULL"
    )
    ((rows, key_text, number_text),) = store.query(
        f"SELECT COUNT(*), {dialect.concat_rows(keys, _ROWS)}, {numbers} "
        f"FROM {q(source.table)} WHERE {q('id')} > {mark} AND {q('id')} <= {mark} "
        f"AND {q('timestamp')} >= {mark} AND {q('timestamp')} < {mark}",
        (span[2], span[3], span[0], span[1]),
    )
    rows = int(rows)
    if not rows:
        return Window(0, [], None)
    texts = [_text(key_text), *([_text(number_text)] if source.measured else [])]
    if longest is not None and any(len(text) >= longest for text in texts):
        raise WindowCut(f"{source.table}: ids {span[2] + 1}..{span[3]} give too long a text")
    keys_of_rows = texts[0].split(_ROWS)
    if len(keys_of_rows) != rows:
        raise StoreError(f"{source.table}: {len(keys_of_rows)} group texts for {rows} rows")
    values = _values(texts[1], rows, len(source.measured)) if source.measured else None
    return Window(rows, keys_of_rows, values)


def decode_key(text: str, kinds: Sequence[str]) -> tuple[Any, ...]:
    """``(period prefix, *dimension values)`` of a group text: each value as the driver
    would give it for its kind (int for BIGINT and BOOLEAN, float for DOUBLE, else str)."""
    period, *parts = text.split(_FIELDS)
    if len(parts) != len(kinds):
        raise StoreError(f"a group text has {len(parts)} values, not {len(kinds)}")
    return (period, *(_typed(part, kind) for part, kind in zip(parts, kinds, strict=True)))


def _typed(part: str, kind: str) -> Any:
    if part == "N":
        return None
    text = bytes.fromhex(part).decode()
    if kind in (BIGINT, BOOLEAN):
        try:
            return int(text)
        except ValueError:  # SQLite keeps a REAL that is not whole in an INTEGER column
            return float(text)
    return float(text) if kind == DOUBLE else text


def _text(value: str | bytes | None) -> str:
    if value is None:
        raise StoreError("a window with rows gave no text")
    return value.decode() if isinstance(value, bytes) else value


def _values(text: str, rows: int, measured: int) -> npt.NDArray[np.float64]:
    """``number_list``'s texts of ``rows`` rows (joined by ``,``) as rows × measured
    doubles, NaN for NULL: parsed in one C call, as integers when they all are, else as
    doubles; item by item only when a stored value parses as ``NULL_NUMBER`` does."""
    count = rows * measured
    nulls = text.count(NULL_NUMBER)
    for dtype, null in ((np.int64, _NULL_INT), (np.float64, float(_NULL_INT))):
        numbers = _parse(text, dtype, count)
        if numbers is None:
            continue  # a decimal point or an exponent: not all integers
        marked = numbers == null
        if int(np.count_nonzero(marked)) != nulls:
            break  # a stored value parses as the NULL marker
        values = numbers.astype(np.float64)  # a correctly rounded int64 → double
        values[marked] = np.nan
        return values.reshape(rows, measured)
    items = text.split(",")
    if len(items) != count:
        raise StoreError(f"a window's numbers are not {rows} rows of {measured} numbers")
    values = np.array([math.nan if item == NULL_NUMBER else float(item) for item in items])
    return values.reshape(rows, measured)


def _parse(text: str, dtype: type[np.generic], count: int) -> npt.NDArray[Any] | None:
    """``count`` comma-separated numbers of ``dtype``, or None when the text is not exactly
    that: numpy stops at the first item it cannot read and only warns (ValueError later)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            numbers = np.fromstring(text, dtype=dtype, sep=",")
        except (DeprecationWarning, ValueError):
            return None
    if numbers.size != count:
        return None
    if dtype is np.int64 and numbers.size:
        limits = np.iinfo(np.int64)  # numpy gives a longer integer as a limit, silently
        if (numbers == limits.max).any() or (numbers == limits.min).any():
            return None
    return numbers
