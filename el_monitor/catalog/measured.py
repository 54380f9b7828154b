"""A rollup's measured fields (``percentiles``): numeric event fields, checked against every
revision of the schema, so that a rule never asks for the percentiles of a string."""

from __future__ import annotations

from typing import Protocol

from el_monitor.catalog.checker import FIELD_PATH_RE, Checker, show_value
from el_monitor.catalog.model import CAPSULE_FIELDS
from el_monitor.catalog.tomllines import KeyPath, did_you_mean
from el_monitor.store.mapping import StoreError, field_column
from el_monitor.store.rollups import measure_columns


class SchemaTypes(Protocol):
    """What is read of a schema's revisions (``policies.SchemaFields``)."""

    @property
    def name(self) -> str: ...

    @property
    def types(self) -> dict[str, frozenset[str]] | None: ...


__all__ = ["NUMERIC", "measured_fields"]

NUMERIC = frozenset({"integer", "number"})


def measured_fields(
    check: Checker, entry: dict, path: KeyPath, schema: SchemaTypes | None
) -> tuple[str, ...] | None:
    """The rule's measured fields (none when absent); None when any of them is wrong."""
    if path[-1] not in entry:
        return ()
    values = check.strings(entry[path[-1]], path)
    if values is None:
        return None
    types = schema.types if schema is not None else None
    dimensions = entry.get("dimensions")
    where = f" of {schema.name}" if schema is not None else ""
    good: list[str] = []
    for item in values:
        problem = _problem(item, types, where, dimensions, good)
        if problem:
            check.problem(path, problem)
        else:
            good.append(item)
    return tuple(good) if len(good) == len(values) else None


def _problem(
    item: str,
    types: dict[str, frozenset[str]] | None,
    where: str,
    dimensions: object,
    seen: list[str],
) -> str:
    """What is wrong with one measured field, or ''."""
    if not FIELD_PATH_RE.fullmatch(item):
        return f"{show_value(item)} is not a field path: dotted names of A-Za-z0-9_"
    if item in seen:
        return f"{item!r} is listed twice"
    if isinstance(dimensions, list) and item in dimensions:
        return f"{item!r} is a dimension: a field is grouped by or measured, not both"
    if item in CAPSULE_FIELDS:
        return f"{item!r} is a capsule field, not a number"
    try:
        measure_columns(field_column(item))
    except StoreError as exc:
        return f"{item!r}: {exc}"
    if types is None:
        return ""
    if item not in types:
        return f"no field {item!r} in any revision{where}{did_you_mean(item, sorted(types))}"
    declared = types[item] - {"null"}
    if not declared or not declared <= NUMERIC:
        shown = ", ".join(sorted(declared)) or "no type"
        return f"{item!r} is {shown}{where}: percentiles need an integer or number field"
    return ""
