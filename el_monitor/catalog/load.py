"""The catalog: per-schema policy that does not belong in the schema itself.

One TOML file names, per schema, its owners, sampling, alert rate, retention and what survives
sanitizing; ``[defaults]`` fills what a schema omits.  Two optional tables configure the mail
that goes to those owners: ``[smtp]`` (where it is handed off; the password only ever by file
or environment) and ``[alerts]`` (Graphite, runbook, repeat and flapping rules, the daily
report's recipients), exposed as ``Catalog.smtp`` and ``Catalog.alerts``.

Loading collects *every* problem, each as ``FILE:LINE: key: what is wrong``, because an
operator fixing a catalog wants the whole list at once rather than one error per run.
``tomllib`` reports no positions for valid TOML, so ``KeyLines`` finds the line of each key by
scanning the text.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import re
import socket
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from el_monitor.catalog.tomllines import KeyLines, KeyPath, did_you_mean, show_key
from el_monitor.errors import SchemaError, UserError
from el_monitor.event.names import SCHEMA_NAME
from el_monitor.schema.registry import HttpRegistry, SchemaRegistry

__all__ = [
    "CAPSULE_FIELDS",
    "DEFAULT_PATH",
    "SMTP_SECURITY",
    "Aggregate",
    "AlertSettings",
    "Catalog",
    "CatalogError",
    "Extension",
    "SchemaPolicy",
    "SmtpSettings",
    "empty_catalog",
    "load_catalog",
]

log = logging.getLogger(__name__)

DEFAULT_PATH = "el-monitor.toml"
# Capsule fields a rollup may group by and sanitizing may keep, besides the event's own.
CAPSULE_FIELDS = frozenset({"wiki", "webHost", "uuid", "timestamp"})
PERIODS = ("hour", "day", "month")

FIELD_PATH_RE = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
AGGREGATE_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,40}")
# Pragmatic, not RFC 5322: addresses end up in mail headers and HTML, so no spaces, quotes,
# angle brackets or commas; a dotted domain with an alphabetic top-level label.
EMAIL_RE = re.compile(
    r"[A-Za-z0-9._%+'-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)

TOP_KEYS = ("secret_file", "optout_file", "ops", "smtp", "alerts", "defaults", "schema")
SMTP_KEYS = ("host", "port", "security", "user", "password_file", "mail_from", "timeout")
SMTP_SECURITY = ("none", "starttls", "tls")
ALERT_KEYS = (
    "graphite_url",
    "graphite_link",
    "graphite_prefix",
    "runbook_url",
    "repeat_interval",
    "flap_changes",
    "flap_window",
    "state_file",
    "graph_hours",
    "report_recipients",
)
RUNBOOK_FIELDS = frozenset({"schema", "service", "host"})
URL_RE = re.compile(r"https?://[^/\s]+\S*")
GRAPHITE_PATH_RE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
HOST_RE = re.compile(r"[A-Za-z0-9_.:-]{1,253}|\[[0-9A-Fa-f:.]+\]")
POLICY_KEYS = (
    "owners",
    "sample_rate",
    "sample_key",
    "max_rate",
    "retention_days",
    "keep",
    "aggregate",
    "extensions",
    "user_fields",
)
AGGREGATE_KEYS = ("name", "dimensions", "period")
EXTENSION_KEYS = ("until", "reason", "retention_days", "fields")


@dataclass(frozen=True)
class Extension:
    """Longer retention for a stated reason, until a date (whole rows, or only ``fields``)."""

    until: datetime.date
    reason: str
    retention_days: int
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Aggregate:
    """A rollup kept after the raw rows are purged."""

    name: str
    dimensions: tuple[str, ...]
    period: str = "day"


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
    aggregate: tuple[Aggregate, ...] = ()
    extensions: tuple[Extension, ...] = ()
    user_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class SmtpSettings:
    """Where alert and report mail is handed off (``[smtp]``).

    ``security`` is ``none`` (plain SMTP), ``starttls`` (upgrade after EHLO) or ``tls``
    (implicit TLS, usually port 465).  The password is never in the catalog itself: it comes
    from ``password_file`` or ``$EL_MONITOR_SMTP_PASSWORD`` (see ``el_monitor.mail.smtp``).
    ``mail_from`` None means ``el-monitor@<fqdn>``, resolved only when a mail is built, so
    loading a catalog never waits on DNS.
    """

    host: str = "localhost"
    port: int = 25
    security: str = "none"
    user: str | None = None
    password_file: str | None = None
    mail_from: str | None = None
    timeout: float = 10.0

    def sender(self) -> str:
        """``mail_from``, or ``el-monitor@<this host's fqdn>``."""
        return self.mail_from or f"el-monitor@{socket.getfqdn()}"


@dataclass(frozen=True)
class AlertSettings:
    """How ``el-monitor notify`` and the daily report behave (``[alerts]``).

    ``graphite_url`` is the render API el-monitor reads; ``graphite_link`` the base of the links
    people click in a mail (a public name for the same graphite-web, say), defaulting to
    ``graphite_url``.  ``runbook_url`` may name ``{schema}``, ``{service}`` and ``{host}``.
    Intervals are seconds.  ``report_recipients`` empty means the catalog's ``ops``.
    """

    graphite_url: str | None = None
    graphite_link: str | None = None
    graphite_prefix: str = "eventlogging"
    runbook_url: str | None = None
    repeat_interval: float = 14400.0
    flap_changes: int = 5
    flap_window: float = 3600.0
    state_file: str = "el-monitor-notify.state.json"
    graph_hours: float = 6.0
    report_recipients: tuple[str, ...] = ()

    @property
    def link_base(self) -> str | None:
        """The Graphite base URL for links in mails."""
        return self.graphite_link or self.graphite_url


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


def load_catalog(path: str | os.PathLike | None, registry: SchemaRegistry | None = None) -> Catalog:
    """Read and validate a catalog; with a ``registry``, schema and field names are checked too.

    ``None`` means ``el-monitor.toml`` in the working directory, and its absence means built-in
    defaults; an explicitly named file that does not exist is an error.  All problems are
    collected and raised together as one ``CatalogError``.
    """
    if path is None:
        if not Path(DEFAULT_PATH).exists():
            return empty_catalog()
        path = DEFAULT_PATH
    file = Path(path)
    label = os.fspath(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise CatalogError(
            [f"{label}: catalog file not found; check --config or create it"]
        ) from None
    except IsADirectoryError:
        raise CatalogError(
            [f"{label}: is a directory, not a catalog file; check --config"]
        ) from None
    except OSError as exc:
        raise CatalogError([f"{label}: cannot read catalog: {exc.strerror}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CatalogError([f"{label}:{line}: catalog is not valid UTF-8"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError([_syntax_problem(label, str(exc))]) from None
    checker = _Checker(label, file, KeyLines(text), registry)
    catalog = checker.catalog(data)
    if checker.problems:
        checker.problems.sort(key=lambda item: item[0])
        raise CatalogError([message for _, message in checker.problems])
    return catalog


def _syntax_problem(label: str, message: str) -> str:
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found:
        what = message[: found.start()]
        return f"{label}:{found[1]}: TOML syntax error: {what} (column {found[2]})"
    found = re.search(r"\s*\(at end of document\)$", message)
    if found:
        return f"{label}: TOML syntax error: {message[: found.start()]} at the end of the file"
    return f"{label}: TOML syntax error: {message}"


# --- validation ------------------------------------------------------------------------------


class _Checker:
    """Walks the parsed TOML, building policies from what is valid and noting what is not."""

    def __init__(
        self, label: str, file: Path, lines: KeyLines, registry: SchemaRegistry | None
    ) -> None:
        self.label = label
        self.file = file
        self.lines = lines
        self.registry = registry
        self.problems: list[tuple[int, str]] = []
        self._fields: dict[str, frozenset[str] | None] = {}
        self._revisions = registry.revisions() if registry is not None else []
        self._known: frozenset[str] | None = None
        if registry is not None and not isinstance(registry, HttpRegistry):
            # An HTTP repository cannot be listed, so only a directory can say "no such schema".
            self._known = frozenset(name for name, _ in self._revisions)

    def problem(self, path: KeyPath, message: str) -> None:
        line = self.lines.line(path)
        self.problems.append((line, f"{self.label}:{line}: {show_key(path)}: {message}"))

    def unknown_keys(self, table: Mapping, path: KeyPath, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"; expected one of: {', '.join(allowed)}"
                self.problem((*path, key), f"unknown key {key!r}{hint}")

    def catalog(self, data: dict) -> Catalog:
        self.unknown_keys(data, (), TOP_KEYS)
        secret_file = self.file_name(data, "secret_file")
        optout_file = self.file_name(data, "optout_file")
        ops = self.emails(data, ("ops",))
        smtp = self.smtp(data.get("smtp", {}))
        alerts = self.alerts(data.get("alerts", {}), ops)
        raw_defaults: dict[str, Any] = {}
        if "defaults" in data:
            if isinstance(data["defaults"], dict):
                raw_defaults = self.policy_values(data["defaults"], ("defaults",), None)
            else:
                self.problem(("defaults",), "must be a table: write [defaults] on its own line")
        defaults = self.merged("*", {}, raw_defaults, ("defaults",))
        schemas: dict[str, SchemaPolicy] = {}
        tables = data.get("schema", {})
        if not isinstance(tables, dict):
            self.problem(("schema",), "must be tables, one per schema: [schema.<Name>]")
            tables = {}
        for name, table in tables.items():
            path: KeyPath = ("schema", name)
            known = self.check_name(name, path)
            if not isinstance(table, dict):
                self.problem(path, f"must be a table: write [schema.{show_key((name,))}] and keys")
                continue
            values = self.policy_values(table, path, name if known else None)
            schemas[name] = self.merged(name, raw_defaults, values, path)
        return Catalog(
            path=self.file,
            defaults=defaults,
            schemas=MappingProxyType(schemas),
            secret_file=secret_file,
            optout_file=optout_file,
            ops=ops,
            smtp=smtp,
            alerts=alerts,
        )

    def table(self, value: object, name: str) -> dict:
        """A top-level table such as ``[smtp]``; anything else is one problem."""
        if isinstance(value, dict):
            return value
        self.problem((name,), f"must be a table: write [{name}] on its own line and keys below")
        return {}

    def setting(
        self, table: dict, path: KeyPath, ok: Callable[[object], bool], what: str
    ) -> object | None:
        """``table[path[-1]]`` when present and valid; a problem when present and not."""
        key = path[-1]
        if key not in table:
            return None
        if ok(table[key]):
            return table[key]
        self.problem(path, f"must be {what}, not {_repr(table[key])}")
        return None

    def smtp(self, value: object) -> SmtpSettings:
        """``[smtp]``: where mail is handed off.  A ``password`` key is refused outright:
        a secret in a file that is read by everyone who reads policy is a leak."""
        table = self.table(value, "smtp")
        if "password" in table:
            self.problem(
                ("smtp", "password"),
                "no passwords in the catalog: put it in a file named by password_file "
                "(readable only by el-monitor) or in $EL_MONITOR_SMTP_PASSWORD",
            )
        self.unknown_keys({k: v for k, v in table.items() if k != "password"}, ("smtp",), SMTP_KEYS)
        out: dict[str, Any] = {}
        host = self.setting(
            table,
            ("smtp", "host"),
            lambda v: isinstance(v, str) and bool(HOST_RE.fullmatch(v)),
            "a host name or address such as mail.example.org",
        )
        if host is not None:
            out["host"] = host
        port = self.setting(
            table,
            ("smtp", "port"),
            lambda v: _is_int(v) and 1 <= v <= 65535,
            "a port number 1..65535 (25, 587 with starttls, 465 with tls)",
        )
        if port is not None:
            out["port"] = port
        security = self.setting(
            table,
            ("smtp", "security"),
            lambda v: v in SMTP_SECURITY,
            f"one of {', '.join(map(repr, SMTP_SECURITY))}",
        )
        if security is not None:
            out["security"] = security
        user = self.setting(
            table,
            ("smtp", "user"),
            lambda v: isinstance(v, str) and bool(v.strip()),
            "a user name (a non-empty string)",
        )
        if user is not None:
            out["user"] = user
        if "password_file" in table:
            out["password_file"] = self.file_name(table, "password_file", ("smtp",))
        sender = self.setting(
            table,
            ("smtp", "mail_from"),
            lambda v: isinstance(v, str) and bool(EMAIL_RE.fullmatch(v)),
            "an email address like el-monitor@example.org",
        )
        if sender is not None:
            out["mail_from"] = sender
        timeout = self.setting(
            table, ("smtp", "timeout"), _is_positive, "a positive number of seconds"
        )
        if timeout is not None:
            out["timeout"] = float(timeout)  # type: ignore[arg-type]
        return SmtpSettings(**out)

    def alerts(self, value: object, ops: tuple[str, ...]) -> AlertSettings:
        """``[alerts]``: Graphite, runbook, repeat and flapping rules, the report's recipients."""
        table = self.table(value, "alerts")
        self.unknown_keys(table, ("alerts",), ALERT_KEYS)
        out: dict[str, Any] = {}
        for key in ("graphite_url", "graphite_link"):
            url = self.setting(
                table,
                ("alerts", key),
                lambda v: isinstance(v, str) and bool(URL_RE.fullmatch(v)),
                "an http:// or https:// URL such as http://graphite.example.org",
            )
            if url is not None:
                out[key] = str(url).rstrip("/")
        prefix = self.setting(
            table,
            ("alerts", "graphite_prefix"),
            lambda v: isinstance(v, str) and bool(GRAPHITE_PATH_RE.fullmatch(v)),
            "a Graphite path such as eventlogging",
        )
        if prefix is not None:
            out["graphite_prefix"] = prefix
        runbook = self.setting(
            table,
            ("alerts", "runbook_url"),
            lambda v: isinstance(v, str) and bool(URL_RE.fullmatch(v)),
            "an http:// or https:// URL, optionally with {schema}, {service} or {host}",
        )
        if runbook is not None:
            unknown = _format_fields(str(runbook)) - RUNBOOK_FIELDS
            if "" in unknown:
                self.problem(
                    ("alerts", "runbook_url"),
                    "a { or } that is not a placeholder; write {{ or }} for a literal brace",
                )
            elif unknown:
                self.problem(
                    ("alerts", "runbook_url"),
                    f"unknown placeholder {{{sorted(unknown)[0]}}}; "
                    "use {schema}, {service} or {host}",
                )
            else:
                out["runbook_url"] = runbook
        seconds = [
            ("repeat_interval", lambda v: _is_number(v) and v >= 0, "a number of seconds >= 0"),
            ("flap_window", _is_positive, "a positive number of seconds"),
            ("graph_hours", lambda v: _is_positive(v) and v <= 24 * 90, "hours, 0 < h <= 2160"),
        ]
        for key, ok, what in seconds:
            found = self.setting(table, ("alerts", key), ok, what)
            if found is not None:
                out[key] = float(found)  # type: ignore[arg-type]
        changes = self.setting(
            table,
            ("alerts", "flap_changes"),
            lambda v: _is_int(v) and v >= 1,
            "an integer >= 1 (state changes in flap_window before a service is flapping)",
        )
        if changes is not None:
            out["flap_changes"] = changes
        if "state_file" in table:
            state_file = self.file_name(table, "state_file", ("alerts",))
            if state_file is not None:
                out["state_file"] = state_file
        else:
            # Relative to the catalog, like every file it names.
            out["state_file"] = str(self.file.absolute().parent / AlertSettings.state_file)
        recipients = self.emails(table, ("alerts", "report_recipients"))
        out["report_recipients"] = recipients or ops
        return AlertSettings(**out)

    def check_name(self, name: str, path: KeyPath) -> bool:
        """Whether ``name`` is a schema the registry knows (so its fields can be checked)."""
        if not SCHEMA_NAME.fullmatch(name):
            self.problem(path, "schema names are 1 to 63 of A-Z a-z 0-9 _ -")
            return False
        if self._known is None:
            return self.registry is not None
        if name not in self._known:
            self.problem(
                path, f"no schema {name!r} in the registry{did_you_mean(name, self._known)}"
            )
            return False
        return True

    def merged(self, name: str, defaults: dict, values: dict, path: KeyPath) -> SchemaPolicy:
        """The policy of ``values`` over ``defaults``; checks only what ``values`` sets itself."""
        settings = {**defaults, **values}
        settings.pop("_extensions_at", None)
        policy = SchemaPolicy(name=name, **settings)
        placed = values.get("_extensions_at", ())
        for where, extension in placed:
            if extension.retention_days <= policy.retention_days:
                self.problem(
                    (*where, "retention_days"),
                    f"{extension.retention_days} days is not longer than the schema's "
                    f"retention_days ({policy.retention_days}); an extension must lengthen it",
                )
        return policy

    def file_name(self, data: dict, key: str, table: KeyPath = ()) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem((*table, key), "must be a file name (a non-empty string)")
            return None
        # Relative to the catalog, not to wherever the service happens to start.
        return str(self.file.absolute().parent / Path(value).expanduser())

    def policy_values(self, table: dict, path: KeyPath, schema: str | None) -> dict[str, Any]:
        """The valid keys of a ``[defaults]`` or ``[schema.X]`` table, as SchemaPolicy kwargs."""
        self.unknown_keys(table, path, POLICY_KEYS)
        out: dict[str, Any] = {}
        if "owners" in table:
            out["owners"] = self.emails(table, (*path, "owners"))
        checks: list[tuple[str, Callable[[object], bool], str]] = [
            ("sample_rate", lambda v: _is_int(v) and v >= 1, "an integer >= 1 (keep 1 in N)"),
            ("max_rate", _is_positive, "a positive number of events per second"),
            ("retention_days", lambda v: _is_int(v) and v >= 1, "an integer number of days >= 1"),
        ]
        for key, ok, what in checks:
            if key in table:
                if ok(table[key]):
                    out[key] = float(table[key]) if key == "max_rate" else table[key]
                else:
                    self.problem((*path, key), f"must be {what}, not {_repr(table[key])}")
        for key, capsule in (("sample_key", False), ("keep", True), ("user_fields", False)):
            if key in table:
                out[key] = self.fields(table[key], (*path, key), schema, capsule)
        if "aggregate" in table:
            out["aggregate"] = self.aggregates(table["aggregate"], (*path, "aggregate"), schema)
        if "extensions" in table:
            placed = self.extensions(table["extensions"], (*path, "extensions"), schema)
            out["extensions"] = tuple(extension for _, extension in placed)
            out["_extensions_at"] = placed  # for merged(), which knows the final retention
        return out

    def strings(self, value: object, path: KeyPath) -> tuple[str, ...] | None:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        self.problem(path, f'must be a list of strings such as ["a", "b"], not {_repr(value)}')
        return None

    def emails(self, table: Mapping, path: KeyPath) -> tuple[str, ...]:
        if path[-1] not in table:
            return ()
        values = self.strings(table[path[-1]], path)
        if values is None:
            return ()
        for value in values:
            if not EMAIL_RE.fullmatch(value):
                self.problem(path, f"{_repr(value)} is not an email address like team@example.org")
        return tuple(v for v in values if EMAIL_RE.fullmatch(v))

    def fields(
        self, value: object, path: KeyPath, schema: str | None, capsule: bool
    ) -> tuple[str, ...]:
        values = self.strings(value, path)
        if values is None:
            return ()
        known = self.schema_fields(schema) if schema is not None else None
        good = []
        for item in values:
            if not FIELD_PATH_RE.fullmatch(item):
                self.problem(
                    path,
                    f"{_repr(item)} is not a field path: dotted names of A-Za-z0-9_"
                    " such as performer.user_id",
                )
            elif (
                known is not None and item not in known and not (capsule and item in CAPSULE_FIELDS)
            ):
                choices = known | CAPSULE_FIELDS if capsule else known
                self.problem(
                    path,
                    f"no field {item!r} in any revision of {schema}"
                    f"{did_you_mean(item, sorted(choices))}",
                )
            else:
                good.append(item)
        return tuple(good)

    def schema_fields(self, schema: str) -> frozenset[str] | None:
        """Every field path of every revision of ``schema``; None when none can be read."""
        if schema not in self._fields:
            assert self.registry is not None
            found: set[str] = set()
            readable = False
            for name, revision in self._revisions:
                if name != schema:
                    continue
                try:
                    compiled = self.registry.get(name, revision)
                except SchemaError as exc:
                    log.warning(
                        "catalog: cannot check fields against %s/%s: %s", name, revision, exc
                    )
                    continue
                if compiled is not None:
                    readable = True
                    _field_paths(compiled.schema, "", found)
            self._fields[schema] = frozenset(found) if readable else None
        return self._fields[schema]

    def entries(self, value: object, path: KeyPath, what: str) -> list[tuple[KeyPath, dict]]:
        """Array-of-tables entries, each with its path; anything else is one problem."""
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            header = show_key(path)
            self.problem(path, f"must be an array of tables: one [[{header}]] per {what}")
            return []
        return [((*path, index), item) for index, item in enumerate(value)]

    def required(self, entry: dict, path: KeyPath, ok: Callable[[object], bool], what: str) -> bool:
        """Whether ``entry[path[-1]]`` is there and passes ``ok``; a problem if not."""
        key = path[-1]
        if key not in entry:
            self.problem(path, f"missing: {what}")
        elif not ok(entry[key]):
            self.problem(path, f"must be {what}, not {_repr(entry[key])}")
        else:
            return True
        return False

    def aggregates(self, value: object, path: KeyPath, schema: str | None) -> tuple[Aggregate, ...]:
        out = []
        names: set[str] = set()
        for where, entry in self.entries(value, path, "rollup"):
            self.unknown_keys(entry, where, AGGREGATE_KEYS)
            ok = self.required(
                entry,
                (*where, "name"),
                lambda v: isinstance(v, str) and bool(AGGREGATE_NAME_RE.fullmatch(v)),
                "a name of 1 to 40 of A-Z a-z 0-9 _",
            )
            name = entry.get("name")
            if ok and name in names:
                self.problem((*where, "name"), f"a second aggregate named {name!r}")
                ok = False
            names.add(name)
            if self.required(
                entry,
                (*where, "dimensions"),
                lambda v: isinstance(v, list) and bool(v),
                'a non-empty list of fields such as ["wiki"]',
            ):
                dimensions = entry["dimensions"]
                good = self.fields(dimensions, (*where, "dimensions"), schema, capsule=True)
                ok = ok and len(good) == len(dimensions)
            else:
                ok = False
            period = entry.get("period", "day")
            if period not in PERIODS:
                self.problem(
                    (*where, "period"),
                    f"must be one of {', '.join(map(repr, PERIODS))}, not {_repr(period)}",
                )
                ok = False
            if ok:
                out.append(Aggregate(name, tuple(entry["dimensions"]), period))
        return tuple(out)

    def extensions(
        self, value: object, path: KeyPath, schema: str | None
    ) -> tuple[tuple[KeyPath, Extension], ...]:
        """The valid extensions, each with where it is written."""
        out = []
        for where, entry in self.entries(value, path, "extension"):
            self.unknown_keys(entry, where, EXTENSION_KEYS)
            checks = [
                self.required(
                    entry,
                    (*where, "until"),
                    lambda v: isinstance(v, datetime.date) and not isinstance(v, datetime.datetime),
                    "a TOML date such as 2027-06-30 (no quotes, no time)",
                ),
                self.required(
                    entry,
                    (*where, "reason"),
                    lambda v: isinstance(v, str) and bool(v.strip()),
                    "a non-empty reason: the ticket and why the data is kept longer",
                ),
                self.required(
                    entry,
                    (*where, "retention_days"),
                    lambda v: _is_int(v) and v >= 1,
                    "an integer number of days >= 1",
                ),
            ]
            fields: tuple[str, ...] = ()
            if "fields" in entry:
                fields = self.fields(entry["fields"], (*where, "fields"), schema, capsule=True)
                checks.append(
                    isinstance(entry["fields"], list) and len(fields) == len(entry["fields"])
                )
            if all(checks):
                until, reason, days = (
                    entry["until"],
                    entry["reason"].strip(),
                    entry["retention_days"],
                )
                out.append((where, Extension(until, reason, days, fields)))
        return tuple(out)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _format_fields(text: str) -> set[str]:
    """The ``{name}`` placeholders of a format string; ``{`` that is not one counts as ``""``."""
    try:
        return {name or "" for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {""}


def _is_positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _repr(value: object) -> str:
    """A short TOML-ish rendering of a bad value for a message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        text = "a table"
    else:
        text = repr(value) if not isinstance(value, list) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _field_paths(schema: object, prefix: str, out: set[str]) -> None:
    """Dotted paths of every declared property, nested objects included."""
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            out.add(prefix + name)
            _field_paths(sub, f"{prefix}{name}.", out)
    for key in ("allOf", "anyOf", "oneOf"):
        subs = schema.get(key)
        if isinstance(subs, list):
            for sub in subs:
                _field_paths(sub, prefix, out)
