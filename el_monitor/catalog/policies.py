"""The schema policies of a catalog: ``[defaults]`` and ``[schema.<Name>]`` checked and merged.

With a schema registry, schema names and every field a policy names (``sample_key``, ``keep``,
``hash``, ``user_fields``, rollup dimensions, extension fields) are checked against the schema's
revisions, so a typo is caught when the catalog is loaded rather than when retention runs.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from functools import cached_property
from typing import Any, NamedTuple

from el_monitor.catalog.checker import (
    AGGREGATE_NAME_RE,
    FIELD_PATH_RE,
    Checker,
    is_int,
    is_positive,
    show_value,
)
from el_monitor.catalog.measured import measured_fields
from el_monitor.catalog.model import CAPSULE_FIELDS, PERIODS, Aggregate, Extension, SchemaPolicy
from el_monitor.catalog.tomllines import KeyPath, did_you_mean
from el_monitor.errors import SchemaError
from el_monitor.event.names import SCHEMA_NAME
from el_monitor.schema.fields import declared_fields
from el_monitor.schema.registry import HttpRegistry, SchemaRegistry

__all__ = [
    "POLICY_KEYS",
    "PolicyValues",
    "RegistryIndex",
    "SchemaFields",
    "known_schema",
    "merged",
    "policy_values",
]

log = logging.getLogger(__name__)

POLICY_KEYS = (
    "owners",
    "sample_rate",
    "sample_key",
    "max_rate",
    "retention_days",
    "keep",
    "hash",
    "aggregate",
    "extensions",
    "user_fields",
)
AGGREGATE_KEYS = ("name", "dimensions", "period", "percentiles")
EXTENSION_KEYS = ("until", "reason", "retention_days", "fields")


class RegistryIndex:
    """The registry's schema revisions, listed once for a whole catalog."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self.revisions = registry.revisions()
        # An HTTP repository cannot be listed, so only a directory can say "no such schema".
        self.names: frozenset[str] | None = None
        if not isinstance(registry, HttpRegistry):
            self.names = frozenset(name for name, _ in self.revisions)


class SchemaFields:
    """One schema's field paths, read from the registry only when a policy names a field."""

    def __init__(self, index: RegistryIndex, name: str) -> None:
        self.index = index
        self.name = name

    @cached_property
    def types(self) -> dict[str, frozenset[str]] | None:
        """Every field path of every revision, with the JSON types its revisions declare;
        None when no revision can be read."""
        found: dict[str, set[str]] = {}
        readable = False
        for name, revision in self.index.revisions:
            if name != self.name:
                continue
            try:
                compiled = self.index.registry.get(name, revision)
            except SchemaError as exc:
                log.warning("catalog: cannot check fields against %s/%s: %s", name, revision, exc)
                continue
            if compiled is not None:
                readable = True
                for field in declared_fields(compiled.schema):
                    kinds = found.setdefault(field.path, set())
                    declared = field.spec.get("type")
                    if isinstance(declared, str):
                        kinds.add(declared)
                    elif isinstance(declared, list):
                        kinds.update(t for t in declared if isinstance(t, str))
        return {path: frozenset(kinds) for path, kinds in found.items()} if readable else None

    @property
    def paths(self) -> frozenset[str] | None:
        """Every field path of every revision; None when no revision can be read."""
        types = self.types
        return None if types is None else frozenset(types)


class PolicyValues(NamedTuple):
    """The valid keys of one policy table as ``SchemaPolicy`` keyword arguments, and where each
    extension is written (only the merge knows the retention it must lengthen)."""

    settings: dict[str, Any]
    extensions_at: tuple[tuple[KeyPath, Extension], ...] = ()
    path: KeyPath = ()  # the table the values were read from


def known_schema(
    check: Checker, index: RegistryIndex | None, name: str, path: KeyPath
) -> SchemaFields | None:
    """The fields of schema ``name`` when the registry knows it (so they can be checked)."""
    if not SCHEMA_NAME.fullmatch(name):
        check.problem(path, "schema names are 1 to 63 of A-Z a-z 0-9 _ -")
        return None
    if index is None:
        return None
    if index.names is not None and name not in index.names:
        check.problem(path, f"no schema {name!r} in the registry{did_you_mean(name, index.names)}")
        return None
    return SchemaFields(index, name)


def merged(
    check: Checker, name: str, defaults: Mapping[str, Any], values: PolicyValues
) -> SchemaPolicy:
    """The policy of ``values`` over ``defaults``; checks only what ``values`` sets itself."""
    policy = SchemaPolicy(name=name, **{**defaults, **values.settings})
    both = [field for field in policy.hash if field in policy.keep]
    if both and ("keep" in values.settings or "hash" in values.settings):
        key = "hash" if "hash" in values.settings else "keep"
        check.problem(
            (*values.path, key),
            f"{', '.join(map(repr, both))} in both keep and hash: a field is kept as it is "
            "or hashed, not both",
        )
    for where, extension in values.extensions_at:
        if extension.retention_days <= policy.retention_days:
            check.problem(
                (*where, "retention_days"),
                f"{extension.retention_days} days is not longer than the schema's "
                f"retention_days ({policy.retention_days}); an extension must lengthen it",
            )
    return policy


def policy_values(
    check: Checker, table: dict, path: KeyPath, schema: SchemaFields | None
) -> PolicyValues:
    """The valid keys of a ``[defaults]`` or ``[schema.X]`` table."""
    check.unknown_keys(table, path, POLICY_KEYS)
    out: dict[str, Any] = {}
    if "owners" in table:
        out["owners"] = check.emails(table, (*path, "owners"))
    check.setting(
        table,
        (*path, "sample_rate"),
        is_int,
        "an integer >= 1 (keep 1 in N)",
        lambda v: v >= 1,
        into=out,
    )
    max_rate = check.setting(
        table, (*path, "max_rate"), is_positive, "a positive number of events per second"
    )
    if max_rate is not None:
        out["max_rate"] = float(max_rate)
    check.setting(
        table,
        (*path, "retention_days"),
        is_int,
        "an integer number of days >= 1",
        lambda v: v >= 1,
        into=out,
    )
    keys = (("sample_key", False), ("keep", True), ("hash", False), ("user_fields", False))
    for key, capsule in keys:
        if key in table:
            out[key] = fields(check, table[key], (*path, key), schema, capsule)
    if "aggregate" in table:
        out["aggregate"] = _aggregates(check, table["aggregate"], (*path, "aggregate"), schema)
    placed: tuple[tuple[KeyPath, Extension], ...] = ()
    if "extensions" in table:
        placed = _extensions(check, table["extensions"], (*path, "extensions"), schema)
        out["extensions"] = tuple(extension for _, extension in placed)
    return PolicyValues(out, placed, path)


def fields(
    check: Checker, value: object, path: KeyPath, schema: SchemaFields | None, capsule: bool
) -> tuple[str, ...]:
    """The valid field paths of a list; with ``capsule``, capsule fields count as fields."""
    values = check.strings(value, path)
    if values is None:
        return ()
    known = schema.paths if schema is not None else None
    good = []
    for item in values:
        if not FIELD_PATH_RE.fullmatch(item):
            check.problem(
                path,
                f"{show_value(item)} is not a field path: dotted names of A-Za-z0-9_"
                " such as performer.user_id",
            )
        elif known is not None and item not in known and not (capsule and item in CAPSULE_FIELDS):
            assert schema is not None  # known is only set with a schema
            choices = known | CAPSULE_FIELDS if capsule else known
            check.problem(
                path,
                f"no field {item!r} in any revision of {schema.name}"
                f"{did_you_mean(item, sorted(choices))}",
            )
        else:
            good.append(item)
    return tuple(good)


def _aggregates(
    check: Checker, value: object, path: KeyPath, schema: SchemaFields | None
) -> tuple[Aggregate, ...]:
    out = []
    names: set[object] = set()
    for where, entry in check.entries(value, path, "rollup"):
        check.unknown_keys(entry, where, AGGREGATE_KEYS)
        ok = check.required(
            entry,
            (*where, "name"),
            lambda v: isinstance(v, str) and bool(AGGREGATE_NAME_RE.fullmatch(v)),
            "a name of 1 to 40 of A-Z a-z 0-9 _",
        )
        name = entry.get("name")
        if ok and name in names:
            check.problem((*where, "name"), f"a second aggregate named {name!r}")
            ok = False
        names.add(name)
        if check.required(
            entry,
            (*where, "dimensions"),
            lambda v: isinstance(v, list) and bool(v),
            'a non-empty list of fields such as ["wiki"]',
        ):
            dimensions = entry["dimensions"]
            good = fields(check, dimensions, (*where, "dimensions"), schema, capsule=True)
            ok = ok and len(good) == len(dimensions)
        else:
            ok = False
        period = entry.get("period", "day")
        if period not in PERIODS:
            check.problem(
                (*where, "period"),
                f"must be one of {', '.join(map(repr, PERIODS))}, not {show_value(period)}",
            )
            ok = False
        measured = measured_fields(check, entry, (*where, "percentiles"), schema)
        if ok and measured is not None:
            out.append(Aggregate(entry["name"], tuple(entry["dimensions"]), period, measured))
    return tuple(out)


def _extensions(
    check: Checker, value: object, path: KeyPath, schema: SchemaFields | None
) -> tuple[tuple[KeyPath, Extension], ...]:
    """The valid extensions, each with where it is written."""
    out = []
    for where, entry in check.entries(value, path, "extension"):
        check.unknown_keys(entry, where, EXTENSION_KEYS)
        checks = [
            check.required(
                entry,
                (*where, "until"),
                lambda v: isinstance(v, datetime.date) and not isinstance(v, datetime.datetime),
                "a TOML date such as 2027-06-30 (no quotes, no time)",
            ),
            check.required(
                entry,
                (*where, "reason"),
                lambda v: isinstance(v, str) and bool(v.strip()),
                "a non-empty reason: the ticket and why the data is kept longer",
            ),
            check.required(
                entry,
                (*where, "retention_days"),
                lambda v: is_int(v) and v >= 1,
                "an integer number of days >= 1",
            ),
        ]
        extension_fields: tuple[str, ...] = ()
        if "fields" in entry:
            extension_fields = fields(
                check, entry["fields"], (*where, "fields"), schema, capsule=True
            )
            checks.append(
                isinstance(entry["fields"], list) and len(extension_fields) == len(entry["fields"])
            )
        if all(checks):
            until, reason, days = entry["until"], entry["reason"].strip(), entry["retention_days"]
            out.append((where, Extension(until, reason, days, extension_fields)))
    return tuple(out)
