"""A dump on disk: a dated directory holding, per table, the dump file and its manifest
(JSON), and the completion marker, written last, that makes it a complete backup.

A directory without a readable marker is partial (the dump failed, was killed, or still
runs).  The marker names every table and the sha256 of each manifest, so a manifest edited
after the dump completed is told apart from one written by the dump.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from el_monitor.atomic import write_atomically
from el_monitor.store.checksum import IdSpan

MARKER = "backup-complete.json"
MANIFEST_SUFFIX = ".manifest.json"
FORMAT = 1
_NAME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{6}Z)(?:-(\d+))?")
Checksum = int | str | None


@dataclass(frozen=True)
class TableManifest:
    """One table's dump: what it covers (id range, rows, the source's checksum of that range
    and how many rows retention had sanitized), the file, and how it was made."""

    table: str
    file: str
    rows: int | None  # None: a table updated in place, dumped whole, states no range
    first_id: int | None
    last_id: int | None
    checksum: Checksum
    sanitized: int
    sha256: str
    size: int
    tool: str
    tool_version: str
    exit_status: int
    started: str
    ended: str
    source: str
    attempts: int = 1
    format: int = FORMAT

    @property
    def ranged(self) -> bool:
        return self.rows is not None

    def with_range(
        self, rows: int, span: IdSpan | None, checksum: Checksum, sanitized: int
    ) -> TableManifest:
        first, last = (span.first, span.last) if span else (None, None)
        return replace(
            self, rows=rows, first_id=first, last_id=last, checksum=checksum, sanitized=sanitized
        )

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> TableManifest:
        """Raises ValueError (or TypeError) when it is not a manifest."""
        fields: dict[str, Any] = json.loads(data)
        return cls(**fields)


@dataclass(frozen=True)
class Marker:
    """The completion marker: when the dump ran, from where, and what it holds."""

    started: str
    ended: str
    source: str
    tables: dict[str, str]  # table -> sha256 of its manifest file
    rows: int
    size: int
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode() + b"\n"

    @property
    def ended_at(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self.ended)


@dataclass(frozen=True)
class Backup:
    """One dated dump directory; ``marker`` None when it is partial (or unreadable: then
    ``problem`` says why)."""

    path: Path
    marker: Marker | None
    problem: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    def manifest_path(self, table: str) -> Path:
        return self.path / f"{table}{MANIFEST_SUFFIX}"

    def manifest(self, table: str) -> TableManifest:
        """Raises OSError or ValueError with the reason."""
        return TableManifest.from_json(self.manifest_path(table).read_bytes())

    def manifests(self) -> Iterator[TableManifest]:
        """Every table of a complete backup, in the marker's order."""
        for table in self.marker.tables if self.marker else ():
            yield self.manifest(table)


def backup_name(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H%M%SZ")


def new_backup_dir(root: Path, moment: datetime.datetime) -> Path:
    """A new dated directory under ``root`` (``-2``, ``-3`` … when the second is taken)."""
    root.mkdir(parents=True, exist_ok=True)
    base = backup_name(moment)
    for n in range(1, 1000):
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{root}: no free directory name for {base}")


def write_manifest(directory: Path, manifest: TableManifest) -> str:
    """Write it atomically; its sha256, for the marker."""
    data = manifest.to_json()
    write_atomically(directory / f"{manifest.table}{MANIFEST_SUFFIX}", data)
    return hashlib.sha256(data).hexdigest()


def write_marker(directory: Path, marker: Marker) -> None:
    """Last of a dump: from now on the directory is a complete backup."""
    write_atomically(directory / MARKER, marker.to_json())


def list_backups(root: Path) -> list[Backup]:
    """The dated directories under ``root``, oldest first (raises OSError when unreadable)."""
    found = []
    for path in root.iterdir():
        name = _NAME.fullmatch(path.name)
        if name and path.is_dir():
            found.append(((name[1], int(name[2] or 1)), _read(path)))
    return [backup for _, backup in sorted(found, key=lambda item: item[0])]


def _read(path: Path) -> Backup:
    try:
        data = json.loads((path / MARKER).read_bytes())
        return Backup(path, Marker(**data))
    except FileNotFoundError:
        return Backup(path, None)
    except (OSError, ValueError, TypeError) as exc:
        return Backup(path, None, f"unreadable completion marker: {exc}")


def file_digest(path: Path) -> tuple[str, int]:
    """sha256 and size of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
