"""The catalog as typed values: per-schema policy that does not belong in the schema itself.

One TOML file names, per schema, its owners, sampling, alert rate, retention and what survives
sanitizing (``keep``) or survives it hashed (``hash``); ``[defaults]`` fills what a schema
omits.  Two optional tables configure the mail that goes to those owners, ``[smtp]`` and
``[alerts]``, exposed as ``Catalog.smtp`` and ``Catalog.alerts`` (value types of
``el_monitor.mail.settings``, which notify and the report share).  ``[backup]`` lists the hops of
the backup chain (``Catalog.backup``: databases and dump directories) that ``backup verify``
checks.  ``el_monitor.catalog.load`` builds these values from a file.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from el_monitor.errors import UserError
from el_monitor.mail.settings import AlertSettings, SmtpSettings

__all__ = [
    "CAPSULE_FIELDS",
    "DEFAULT_PATH",
    "PERIODS",
    "HOP_KINDS",
    "Aggregate",
    "BackupHop",
    "Catalog",
    "CatalogError",
    "Extension",
    "SchemaPolicy",
    "empty_catalog",
]

DEFAULT_PATH = "el-monitor.toml"
# Capsule fields a rollup may group by and sanitizing may keep, besides the event's own.
CAPSULE_FIELDS = frozenset({"wiki", "webHost", "uuid", "timestamp"})
PERIODS = ("hour", "day", "month")
PRIMARY, REPLICA, DUMPS = "primary", "replica", "dumps"
HOP_KINDS = (PRIMARY, REPLICA, DUMPS)


@dataclass(frozen=True)
class Extension:
    """Longer retention for a stated reason, until a date (whole rows, or only ``fields``)."""

    until: datetime.date
    reason: str
    retention_days: int
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Aggregate:
    """A rollup kept after the raw rows are purged: per period and group of ``dimensions``,
    the event count and, for each numeric field of ``percentiles``, how many events had a
    value and its p50/p75/p95 (``el_monitor.retention.aggregate`` says how they are taken)."""

    name: str
    dimensions: tuple[str, ...]
    period: str = "day"
    percentiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchemaPolicy:
    """What the catalog says about one schema, already merged over ``[defaults]``."""

    name: str
    owners: tuple[str, ...] = ()
    sample_rate: int = 1
    sample_key: tuple[str, ...] = ()
    max_rate: float = 200.0
    retention_days: int = 90
    keep: tuple[str, ...] = ()
    # Tokens kept as HMAC-SHA256 under a rotating salt when rows are sanitized, so that joins
    # within a salt period still work; never also in ``keep`` (kept raw).
    hash: tuple[str, ...] = ()
    aggregate: tuple[Aggregate, ...] = ()
    extensions: tuple[Extension, ...] = ()
    user_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackupHop:
    """One hop of the backup chain: a database (``db``, kind primary or replica) or a
    directory of dated dumps (``dir``) with the age its newest complete dump may reach
    (``schedule_seconds``), the shrink against the previous dump that warns or is critical
    (percent), and the database hop it was dumped from (``source``)."""

    name: str
    kind: str
    db: str | None = None
    password_file: str | None = None
    dir: str | None = None
    source: str | None = None
    schedule: str = ""  # as written, for messages
    schedule_seconds: float = 0.0
    warn_shrink: float = 5.0
    crit_shrink: float = 15.0


@dataclass(frozen=True)
class Catalog:
    """A loaded, valid catalog.  ``schemas`` holds merged policies of the configured schemas."""

    path: Path | None
    defaults: SchemaPolicy
    schemas: Mapping[str, SchemaPolicy] = field(default_factory=lambda: MappingProxyType({}))
    secret_file: str | None = None
    optout_file: str | None = None
    ops: tuple[str, ...] = ()
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    backup: tuple[BackupHop, ...] = ()

    def hop(self, name: str) -> BackupHop | None:
        return next((hop for hop in self.backup if hop.name == name), None)

    def policy(self, schema: str) -> SchemaPolicy:
        """The schema's policy; a schema the catalog does not name gets the defaults."""
        found = self.schemas.get(schema)
        return found if found is not None else replace(self.defaults, name=schema)

    def unowned(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` (deduplicated, in order) whose policy names no owner."""
        return [name for name in dict.fromkeys(names) if not self.policy(name).owners]


class CatalogError(UserError):
    """An invalid catalog; ``problems`` lists every ``FILE:LINE: key: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}" if problems else "invalid catalog")


def empty_catalog() -> Catalog:
    """The catalog in force when there is no file: built-in defaults for every schema."""
    return Catalog(path=None, defaults=SchemaPolicy(name="*"))
