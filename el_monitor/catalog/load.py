"""Loading a catalog file: TOML syntax, then every table checked, then one typed ``Catalog``.

Loading collects *every* problem, each as ``FILE:LINE: key: what is wrong``, because an
operator fixing a catalog wants the whole list at once rather than one error per run.
``tomllib`` reports no positions for valid TOML, so ``KeyLines`` finds the line of each key by
scanning the text.  The rules live apart: schema policies in ``policies``, the ``[smtp]`` and
``[alerts]`` tables in ``mail_settings``, ``[backup]`` in ``backup_settings``, the generic checks
in ``checker``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from types import MappingProxyType

from el_monitor.catalog.backup_settings import backup_hops
from el_monitor.catalog.checker import Checker
from el_monitor.catalog.mail_settings import alert_settings, smtp_settings
from el_monitor.catalog.model import (
    DEFAULT_PATH,
    Catalog,
    CatalogError,
    SchemaPolicy,
    empty_catalog,
)
from el_monitor.catalog.policies import (
    PolicyValues,
    RegistryIndex,
    known_schema,
    merged,
    policy_values,
)
from el_monitor.catalog.tomllines import KeyLines, KeyPath, show_key
from el_monitor.schema.registry import SchemaRegistry

__all__ = ["TOP_KEYS", "load_catalog"]

TOP_KEYS = (
    "secret_file",
    "optout_file",
    "ops",
    "smtp",
    "alerts",
    "backup",
    "defaults",
    "schema",
)


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
    check = Checker(label, file, KeyLines(text))
    index = RegistryIndex(registry) if registry is not None else None
    catalog = _catalog(check, index, data)
    if check.problems:
        raise CatalogError(check.messages())
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


def _catalog(check: Checker, index: RegistryIndex | None, data: dict) -> Catalog:
    """The catalog of the valid parts of ``data``; what is not valid is a problem in ``check``."""
    check.unknown_keys(data, (), TOP_KEYS)
    secret_file = check.file_name(data, ("secret_file",))
    optout_file = check.file_name(data, ("optout_file",))
    ops = check.emails(data, ("ops",))
    smtp = smtp_settings(check, data.get("smtp", {}))
    alerts = alert_settings(check, data.get("alerts", {}), ops)
    backup = backup_hops(check, data.get("backup", {}))
    raw_defaults = PolicyValues({})
    if "defaults" in data:
        if isinstance(data["defaults"], dict):
            raw_defaults = policy_values(check, data["defaults"], ("defaults",), None)
        else:
            check.problem(("defaults",), "must be a table: write [defaults] on its own line")
    defaults = merged(check, "*", {}, raw_defaults)
    schemas: dict[str, SchemaPolicy] = {}
    tables = data.get("schema", {})
    if not isinstance(tables, dict):
        check.problem(("schema",), "must be tables, one per schema: [schema.<Name>]")
        tables = {}
    for name, table in tables.items():
        path: KeyPath = ("schema", name)
        fields = known_schema(check, index, name, path)
        if not isinstance(table, dict):
            check.problem(path, f"must be a table: write [schema.{show_key((name,))}] and keys")
            continue
        values = policy_values(check, table, path, fields)
        schemas[name] = merged(check, name, raw_defaults.settings, values)
    return Catalog(
        path=check.file,
        defaults=defaults,
        schemas=MappingProxyType(schemas),
        secret_file=secret_file,
        optout_file=optout_file,
        ops=ops,
        smtp=smtp,
        alerts=alerts,
        backup=backup,
    )
