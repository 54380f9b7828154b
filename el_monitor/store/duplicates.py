"""Rows whose uuid is stored already: which ones, and whether they differ from what is stored.

The insert skips a stored uuid (replays stay idempotent), so the common path never reads
anything back: only a batch whose insert added fewer rows than it sent reads the stored rows of
its uuids, to tell a replay (the same content: counted ``duplicate``) from another event
reusing a uuid (different content: counted, and reported as an error).  Values are compared as
the engines give them back: booleans as integers, numbers as numbers (a DOUBLE column keeps a
float of what was sent), JSON text as the document it encodes, NULL only equal to NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from el_monitor.store.dialect import IN_LIMIT, Dialect
from el_monitor.store.mapping import DOUBLE, JSON, Row, TableLayout, column_text

Query = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Duplicate:
    """A row not inserted because its uuid was stored (before, or earlier in its batch)."""

    layout: TableLayout
    index: int  # position in the rows handed to insert()
    differs: tuple[str, ...]  # the columns whose stored value is not the one sent; () a replay


def stored_rows(
    query: Query, dialect: Dialect, layout: TableLayout, uuids: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """The stored values (in ``layout`` column order, uuid first) of these uuids, locked for
    the rest of the transaction where the engine can (so no other writer adds one meanwhile)."""
    q = dialect.quote
    found: dict[str, tuple[Any, ...]] = {}
    unique = list(dict.fromkeys(uuids))
    for start in range(0, len(unique), IN_LIMIT):
        chunk = unique[start : start + IN_LIMIT]
        sql = (
            f"SELECT {dialect.names(layout.column_names)} FROM {q(layout.name)} "
            f"WHERE {q(layout.column_names[0])} IN ({dialect.marks(len(chunk))})"
            f"{dialect.lock_rows}"
        )
        for values in query(sql, chunk):
            found[str(column_text(values[0]))] = tuple(values)
    return found


def split_stored(
    layout: TableLayout, rows: Sequence[Row], stored: dict[str, tuple[Any, ...]]
) -> tuple[list[int], list[Duplicate]]:
    """Positions of the rows to insert, and the duplicates: of a stored row, or of a row
    earlier in ``rows`` with the same uuid (the first one is the one kept)."""
    new: list[int] = []
    duplicates: list[Duplicate] = []
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        uuid = row[0]
        assert isinstance(uuid, str)
        original: Sequence[Any] | None = stored.get(uuid)
        if original is None and uuid in first:
            original = rows[first[uuid]]
        if original is None:
            first[uuid] = index
            new.append(index)
        else:
            duplicates.append(Duplicate(layout, index, differing(layout, row, original)))
    return new, duplicates


def duplicates_of(
    layout: TableLayout, rows: Sequence[Row], skipped: Sequence[int], stored: dict[str, Any]
) -> list[Duplicate]:
    """The rows an insert skipped (``skipped`` positions), each compared with the stored row
    of its uuid (read after the insert: for a uuid twice in a batch, the first one sent)."""
    out = []
    for index in skipped:
        uuid = rows[index][0]
        original = stored.get(uuid) if isinstance(uuid, str) else None
        differs = ("uuid",) if original is None else differing(layout, rows[index], original)
        out.append(Duplicate(layout, index, differs))
    return out


def differing(layout: TableLayout, sent: Row, stored: Sequence[Any]) -> tuple[str, ...]:
    """The columns whose value in ``stored`` is not the one ``sent`` (both in layout order;
    ``stored`` may be another row sent, holding the layout's ``empty`` for NULL too)."""
    empty = layout.empty
    return tuple(
        column.name
        for column, a, b in zip(layout.columns, sent, stored, strict=True)
        if not same_value(column.kind, None if a is empty else a, None if b is empty else b)
    )


def same_value(kind: str, sent: object, stored: object) -> bool:
    """Whether a stored value is what was sent, as the engine gives it back."""
    if sent is None or stored is None:
        return sent is None and stored is None
    stored = column_text(stored) if isinstance(stored, bytes | bytearray) else stored
    if sent == stored:  # True == 1, 3 == 3.0: booleans and numbers come back as numbers
        return True
    if kind == JSON and isinstance(sent, str) and isinstance(stored, str):
        try:
            return bool(orjson.loads(sent) == orjson.loads(stored))
        except orjson.JSONDecodeError:
            return False
    if kind == DOUBLE and isinstance(sent, int | float) and isinstance(stored, int | float):
        return float(sent) == float(stored)  # a big integer stored in a DOUBLE
    # A column's affinity may have turned a string into a number or back ("5" and 5).
    return isinstance(sent, str) != isinstance(stored, str) and str(sent) == str(stored)
