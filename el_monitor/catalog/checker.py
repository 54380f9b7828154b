"""Collecting the problems of a TOML file, each as ``FILE:LINE: key: what is wrong``.

An operator fixing a catalog wants the whole list at once rather than one error per run, so
checks never raise: they note a problem and go on with what is valid.  ``Checker`` holds the
list and the generic checks (one setting, a list of strings or emails, a file name, an array
of tables); the catalog's own rules (``policies``, ``mail_settings``) are plain functions that
take it.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

from el_monitor.catalog.tomllines import KeyLines, KeyPath, did_you_mean, show_key

__all__ = [
    "AGGREGATE_NAME_RE",
    "EMAIL_RE",
    "FIELD_PATH_RE",
    "HOST_RE",
    "URL_RE",
    "Checker",
    "is_int",
    "is_number",
    "is_positive",
    "is_str",
    "show_value",
]

T = TypeVar("T")

FIELD_PATH_RE = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
AGGREGATE_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,40}")
# Pragmatic, not RFC 5322: addresses end up in mail headers and HTML, so no spaces, quotes,
# angle brackets or commas; a dotted domain with an alphabetic top-level label.
EMAIL_RE = re.compile(
    r"[A-Za-z0-9._%+'-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
URL_RE = re.compile(r"https?://[^/\s]+\S*")
HOST_RE = re.compile(r"[A-Za-z0-9_.:-]{1,253}|\[[0-9A-Fa-f:.]+\]")


class Checker:
    """The problems found so far in one file, and the checks every table needs."""

    def __init__(self, label: str, file: Path, lines: KeyLines) -> None:
        self.label = label
        self.file = file
        self.lines = lines
        self.problems: list[tuple[int, str]] = []

    def problem(self, path: KeyPath, message: str) -> None:
        line = self.lines.line(path)
        self.problems.append((line, f"{self.label}:{line}: {show_key(path)}: {message}"))

    def messages(self) -> list[str]:
        """Every problem, in the order of the file (those of one line as found)."""
        return [message for _, message in sorted(self.problems, key=lambda item: item[0])]

    def unknown_keys(self, table: Mapping, path: KeyPath, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"; expected one of: {', '.join(allowed)}"
                self.problem((*path, key), f"unknown key {key!r}{hint}")

    def table(self, value: object, name: str) -> dict:
        """A top-level table such as ``[smtp]``; anything else is one problem."""
        if isinstance(value, dict):
            return value
        self.problem((name,), f"must be a table: write [{name}] on its own line and keys below")
        return {}

    def setting(
        self,
        table: Mapping,
        path: KeyPath,
        kind: Callable[[object], TypeGuard[T]],
        what: str,
        ok: Callable[[T], bool] = lambda _: True,
        *,
        into: dict[str, Any] | None = None,
    ) -> T | None:
        """``table[path[-1]]`` when present, of ``kind`` and ``ok`` (and then also stored under
        its key ``into`` a dict of keyword arguments); a problem when present and not."""
        key = path[-1]
        if key not in table:
            return None
        value = table[key]
        if kind(value) and ok(value):
            if into is not None:
                into[str(key)] = value
            return value
        self.problem(path, f"must be {what}, not {show_value(value)}")
        return None

    def required(self, entry: dict, path: KeyPath, ok: Callable[[object], bool], what: str) -> bool:
        """Whether ``entry[path[-1]]`` is there and passes ``ok``; a problem if not."""
        key = path[-1]
        if key not in entry:
            self.problem(path, f"missing: {what}")
        elif not ok(entry[key]):
            self.problem(path, f"must be {what}, not {show_value(entry[key])}")
        else:
            return True
        return False

    def strings(self, value: object, path: KeyPath) -> tuple[str, ...] | None:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        self.problem(path, f'must be a list of strings such as ["a", "b"], not {show_value(value)}')
        return None

    def emails(self, table: Mapping, path: KeyPath) -> tuple[str, ...]:
        """The valid addresses of a list of emails; each invalid one is a problem."""
        if path[-1] not in table:
            return ()
        values = self.strings(table[path[-1]], path)
        if values is None:
            return ()
        for value in values:
            if not EMAIL_RE.fullmatch(value):
                self.problem(
                    path, f"{show_value(value)} is not an email address like team@example.org"
                )
        return tuple(v for v in values if EMAIL_RE.fullmatch(v))

    def file_name(self, table: Mapping, path: KeyPath) -> str | None:
        """A file named by the catalog, made absolute beside the catalog file."""
        value = table.get(path[-1])
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(path, "must be a file name (a non-empty string)")
            return None
        return self.beside_catalog(Path(value).expanduser())

    def beside_catalog(self, name: str | Path) -> str:
        """``name`` relative to the catalog, not to wherever the service happens to start."""
        return str(self.file.absolute().parent / name)

    def entries(self, value: object, path: KeyPath, what: str) -> list[tuple[KeyPath, dict]]:
        """Array-of-tables entries, each with its path; anything else is one problem."""
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            header = show_key(path)
            self.problem(path, f"must be an array of tables: one [[{header}]] per {what}")
            return []
        return [((*path, index), item) for index, item in enumerate(value)]


def is_str(value: object) -> TypeGuard[str]:
    return isinstance(value, str)


def is_int(value: object) -> TypeGuard[int]:
    """An integer, and not a boolean (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[float]:
    """A finite integer or float, and not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_positive(value: object) -> TypeGuard[float]:
    return is_number(value) and value > 0


def show_value(value: object) -> str:
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
