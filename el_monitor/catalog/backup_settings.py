"""The catalog's ``[backup]`` table: the hops of the backup chain, checked like the rest.

Each ``[[backup.hop]]`` is a database (``kind`` primary or replica, with ``db``) or a
directory of dated dumps (``kind`` dumps, with ``dir`` and ``schedule``).  Keys that make no
sense for a kind are errors, not ignored, so a typo never silently turns a check off.  No
password in a URL: the catalog is read by whoever reads policy; ``password_file`` names one.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from el_monitor.catalog.checker import Checker, is_number, is_str, show_value
from el_monitor.catalog.model import DUMPS, HOP_KINDS, BackupHop
from el_monitor.catalog.tomllines import KeyPath
from el_monitor.event.names import INSTANCE_NAME

__all__ = ["BACKUP_KEYS", "HOP_KEYS", "backup_hops", "parse_duration"]

BACKUP_KEYS = ("hop",)
HOP_KEYS = (
    "name",
    "kind",
    "db",
    "password_file",
    "dir",
    "source",
    "schedule",
    "warn_shrink",
    "crit_shrink",
)
_DB_ONLY = ("db", "password_file")
_DUMPS_ONLY = ("dir", "source", "schedule", "warn_shrink", "crit_shrink")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def parse_duration(text: str) -> float | None:
    """``90m``, ``26h``, ``1d``, ``30d``, ``1w`` as seconds; None when not such a text."""
    found = _DURATION.fullmatch(text.strip())
    if not found or float(found[1]) <= 0:
        return None
    return float(found[1]) * _UNIT_SECONDS[found[2]]


def backup_hops(check: Checker, value: object) -> tuple[BackupHop, ...]:
    """``[backup]``: its hops, each checked; names unique, a dumps hop's ``source`` a
    database hop."""
    table = check.table(value, "backup")
    check.unknown_keys(table, ("backup",), BACKUP_KEYS)
    if "hop" not in table:
        return ()
    hops: list[BackupHop] = []
    for path, entry in check.entries(table["hop"], ("backup", "hop"), "hop of the chain"):
        hop = _hop(check, path, entry)
        if hop is None:
            continue
        if any(h.name == hop.name for h in hops):
            check.problem((*path, "name"), f"hop name {hop.name!r} is used twice")
            continue
        hops.append(hop)
    databases = {h.name for h in hops if h.kind != DUMPS}
    for index, hop in enumerate(hops):
        if hop.source is not None and hop.source not in databases:
            check.problem(
                ("backup", "hop", index, "source"),
                f"{hop.source!r} names no primary or replica hop; "
                f"use one of: {', '.join(sorted(databases)) or '(none defined)'}",
            )
    return tuple(hops)


def _hop(check: Checker, path: KeyPath, entry: dict) -> BackupHop | None:
    check.unknown_keys(entry, path, HOP_KEYS)
    ok = check.required(entry, (*path, "name"), _is_name,
                        "a name of letters, digits, _ and - (up to 63)")  # fmt: skip
    ok &= check.required(entry, (*path, "kind"), lambda v: v in HOP_KINDS,
                         f"one of {', '.join(map(repr, HOP_KINDS))}")  # fmt: skip
    if not ok:
        return None
    kind = entry["kind"]
    wrong = _DB_ONLY if kind == DUMPS else _DUMPS_ONLY
    for key in wrong:
        if key in entry:
            check.problem((*path, key), f"not a key of a {kind} hop")
    out: dict[str, Any] = {"name": entry["name"], "kind": kind}
    if kind == DUMPS:
        return _dumps_hop(check, path, entry, out)
    if check.required(entry, (*path, "db"), _is_db_url, "a mysql://user@host:port/db URL"):
        if urlsplit(entry["db"]).password is not None:
            check.problem((*path, "db"), "no passwords in the catalog: name a password_file")
            return None
        out["db"] = entry["db"]
    else:
        return None
    if "password_file" in entry:
        out["password_file"] = check.file_name(entry, (*path, "password_file"))
    return BackupHop(**out)


def _dumps_hop(check: Checker, path: KeyPath, entry: dict, out: dict[str, Any]) -> BackupHop | None:
    has_dir = check.required(entry, (*path, "dir"), lambda v: is_str(v) and bool(v.strip()),
                             "a directory (a non-empty string)")  # fmt: skip
    if "source" in entry:
        out["source"] = check.setting(entry, (*path, "source"), is_str, "a hop name")
    has_schedule = check.required(
        entry,
        (*path, "schedule"),
        lambda v: is_str(v) and parse_duration(v) is not None,
        'how old the newest complete dump may get, such as "26h", "1d" or "30d"',
    )
    if not (has_dir and has_schedule):
        return None
    out["dir"] = check.file_name(entry, (*path, "dir"))
    out["schedule"] = entry["schedule"]
    out["schedule_seconds"] = parse_duration(entry["schedule"])
    for key in ("warn_shrink", "crit_shrink"):
        if key in entry:
            percent = _percent(entry[key])
            if percent is None:
                check.problem((*path, key), f"must be a percentage such as 5 or \"5%\", "
                                            f"not {show_value(entry[key])}")  # fmt: skip
                return None
            out[key] = percent
    hop = BackupHop(**out)
    if hop.warn_shrink > hop.crit_shrink:
        check.problem((*path, "warn_shrink"), "must not exceed crit_shrink")
        return None
    return hop


def _percent(value: object) -> float | None:
    if is_str(value):
        found = _PERCENT.fullmatch(value.strip())
        value = float(found[1]) if found else None
    if is_number(value) and 0 < value < 100:
        return float(value)
    return None


def _is_name(value: object) -> bool:
    return is_str(value) and bool(INSTANCE_NAME.fullmatch(value))


def _is_db_url(value: object) -> bool:
    if not is_str(value):
        return False
    parts = urlsplit(value)
    return parts.scheme == "mysql" and bool(parts.hostname) and bool(parts.path.strip("/"))
