"""Judging one directory of dated dumps: the newest complete backup's age against the hop's
schedule, its integrity (every file's sha256 and size against its manifest, every manifest
against the marker), its size against the previous complete one, and partial dumps.

Staleness: WARNING past ``schedule``, CRITICAL past twice it (a second run missed).  Size:
the total, and each table that held at least ``TABLE_SHARE`` of the previous backup's bytes
(smaller tables, such as an old revision retention is emptying, are covered by the total).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

from el_monitor.backup.findings import Finding, Level
from el_monitor.backup.manifest import Backup, TableManifest, file_digest, list_backups
from el_monitor.catalog.model import BackupHop

TABLE_SHARE = 0.01
HOUR = 3600.0


def judge_dumps(hop: BackupHop, now: datetime.datetime) -> tuple[list[Finding], Backup | None]:
    """The findings of a dumps hop, and its newest complete backup (for the source check)."""
    assert hop.dir is not None
    root = Path(hop.dir)
    if not root.is_dir():
        text = f"backup directory {root} is missing (not created, or its mount is gone)"
        return [Finding(hop.name, Level.CRITICAL, text)], None
    try:
        backups = list_backups(root)
    except OSError as exc:
        return [Finding(hop.name, Level.UNKNOWN, f"cannot read {root}: {exc.strerror}")], None
    complete = [b for b in backups if b.marker is not None]
    if not complete:
        partial = f" ({len(backups)} partial)" if backups else ""
        text = f"no complete backup in {root}{partial}: backups are missing"
        return [Finding(hop.name, Level.CRITICAL, text)], None
    newest = complete[-1]
    findings = [_age(hop, newest, now)]
    findings += _partials(hop, backups, newest)
    findings += _integrity(hop, newest)
    if len(complete) > 1:
        findings += _shrink(hop, complete[-2], newest)
    else:
        findings.append(Finding(hop.name, Level.OK, "no previous complete backup to size against"))
    return findings, newest


def _age(hop: BackupHop, newest: Backup, now: datetime.datetime) -> Finding:
    assert newest.marker is not None
    age = (now - newest.marker.ended_at).total_seconds()
    text = (
        f"newest complete backup {newest.name}: {age / HOUR:.1f} h old "
        f"(schedule {hop.schedule}), {newest.marker.rows} rows, {newest.marker.size} bytes"
    )
    perf = ((f"{hop.name}_age_hours", age / HOUR), (f"{hop.name}_bytes", newest.marker.size))
    if age > 2 * hop.schedule_seconds:
        text = f"stale: {text}, past twice its schedule"
        return Finding(hop.name, Level.CRITICAL, text, perf)
    if age > hop.schedule_seconds:
        return Finding(hop.name, Level.WARNING, f"stale: {text}", perf)
    return Finding(hop.name, Level.OK, text, perf)


def _partials(hop: BackupHop, backups: list[Backup], newest: Backup) -> Iterator[Finding]:
    """Partial dumps newer than the newest complete one are a failed (or running) dump."""
    for backup in backups:
        if backup.marker is not None:
            continue
        why = backup.problem or "no completion marker"
        if backup.name > newest.name:
            text = f"partial backup {backup.name} ({why}): a dump failed or is still running"
            yield Finding(hop.name, Level.WARNING, text)
        else:
            yield Finding(hop.name, Level.OK, f"leftover partial backup {backup.name} ({why})")


def _integrity(hop: BackupHop, backup: Backup) -> Iterator[Finding]:
    """Each manifest as the marker recorded it, each file as its manifest describes it."""
    assert backup.marker is not None
    bad = 0
    for table, manifest_sha in backup.marker.tables.items():
        problem = _table_problem(backup, table, manifest_sha)
        if problem:
            bad += 1
            yield Finding(hop.name, Level.CRITICAL, f"{backup.name}: {table}: {problem}")
    if not bad:
        text = f"{backup.name}: {len(backup.marker.tables)} tables, files match their manifests"
        yield Finding(hop.name, Level.OK, text)


def _table_problem(backup: Backup, table: str, manifest_sha: str) -> str:
    try:
        manifest_digest, _ = file_digest(backup.manifest_path(table))
        manifest = backup.manifest(table)
    except (OSError, ValueError, TypeError) as exc:
        return f"manifest missing or unreadable ({exc})"
    if manifest_digest != manifest_sha:
        return "manifest changed since the dump completed (sha256 differs from the marker's)"
    if manifest.exit_status != 0:
        return f"{manifest.tool} exited with status {manifest.exit_status}"
    try:
        digest, size = file_digest(backup.path / manifest.file)
    except OSError as exc:
        return f"dump file {manifest.file} missing or unreadable ({exc.strerror})"
    if size != manifest.size or digest != manifest.sha256:
        return (
            f"dump file {manifest.file} does not match its manifest ({size} bytes, sha256 "
            f"{digest[:12]}…; manifest {manifest.size} bytes, {manifest.sha256[:12]}…): "
            "tampered or corrupt"
        )
    return ""


def _shrink(hop: BackupHop, previous: Backup, newest: Backup) -> Iterator[Finding]:
    assert previous.marker is not None and newest.marker is not None
    yield _judge_shrink(hop, f"{newest.name}: total", previous.marker.size, newest.marker.size)
    try:
        before = {m.table: m for m in previous.manifests()}
        after = {m.table: m for m in newest.manifests()}
    except (OSError, ValueError, TypeError) as exc:
        yield Finding(hop.name, Level.WARNING, f"cannot compare table sizes: {exc}")
        return
    for table, old in sorted(before.items()):
        new: TableManifest | None = after.get(table)
        if new is None:
            text = f"{newest.name}: {table} is missing (it was in {previous.name})"
            yield Finding(hop.name, Level.CRITICAL, text)
        elif old.size >= TABLE_SHARE * previous.marker.size:
            finding = _judge_shrink(hop, f"{newest.name}: {table}", old.size, new.size)
            if finding.level is not Level.OK:
                yield finding


def _judge_shrink(hop: BackupHop, what: str, before: int, after: int) -> Finding:
    shrink = 100.0 * (before - after) / before if before else 0.0
    text = f"{what} {after} bytes, {before} in the previous backup ({-shrink:+.1f}%)"
    if shrink >= hop.crit_shrink:
        return Finding(
            hop.name, Level.CRITICAL, f"shrunk: {text} (critical at -{hop.crit_shrink:g}%)"
        )
    if shrink >= hop.warn_shrink:
        return Finding(
            hop.name, Level.WARNING, f"shrunk: {text} (warning at -{hop.warn_shrink:g}%)"
        )
    return Finding(hop.name, Level.OK, text)
