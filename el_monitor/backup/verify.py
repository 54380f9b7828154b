"""``backup verify`` and ``check_el_backup``: every hop of the catalog's ``[backup]`` chain
checked, as a list of findings.

A database hop must answer; a replica must also be replicating (both threads running; its
own error text when not).  A dumps hop is judged by ``dumps_hop``, then each table of its
newest complete backup is compared with its ``source`` hop now (``source``: the rule for rows
retention changed since).  A dumps hop without a source is judged on disk alone, said once.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from el_monitor.backup.dumps_hop import judge_dumps
from el_monitor.backup.findings import Finding, Level
from el_monitor.backup.hops import hop_url, open_database
from el_monitor.backup.manifest import Backup
from el_monitor.backup.source import Snapshot, against_source
from el_monitor.catalog.model import DUMPS, REPLICA, BackupHop, Catalog
from el_monitor.errors import UserError
from el_monitor.progress import ProgressSink
from el_monitor.store import StoreError, StoreUnavailable
from el_monitor.store.checksum import IdSpan
from el_monitor.store.dumps import ping
from el_monitor.store.replication import replica_status


def selected_hops(catalog: Catalog, names: Sequence[str]) -> tuple[BackupHop, ...]:
    """The catalog's hops, or only those named (``--hop``); an unknown name is a UserError.
    A named dumps hop keeps its source hop's definition (not verified on its own)."""
    if not catalog.backup:
        where = catalog.path or "the default catalog"
        raise UserError(f"{where} has no [[backup.hop]]: nothing to verify; check --config")
    if not names:
        return catalog.backup
    unknown = [n for n in names if catalog.hop(n) is None]
    if unknown:
        known = ", ".join(h.name for h in catalog.backup)
        raise UserError(f"no backup hop {', '.join(unknown)} in the catalog (hops: {known})")
    return tuple(h for h in catalog.backup if h.name in names)


def verify_chain(
    hops: Sequence[BackupHop],
    now: datetime.datetime,
    progress: ProgressSink | None = None,
    catalog: Catalog | None = None,
) -> list[Finding]:
    """Findings for every hop, in the order given; a source hop is looked up in
    ``catalog`` when it is not among ``hops``."""
    findings: list[Finding] = []
    by_name = {hop.name: hop for hop in (*(catalog.backup if catalog else ()), *hops)}
    for hop in hops:
        if hop.kind == DUMPS:
            found, newest = judge_dumps(hop, now)
            findings += found
            if newest is not None:
                findings += _against_source(hop, newest, by_name)
        else:
            findings.append(_database(hop))
        if progress is not None:
            progress.advance(1, hop.name)
    return findings


def _database(hop: BackupHop) -> Finding:
    try:
        store = open_database(hop_url(hop))
    except UserError as exc:
        return Finding(hop.name, Level.UNKNOWN, str(exc))
    if isinstance(store, str):
        return Finding(hop.name, Level.CRITICAL, f"unreachable: {store}")
    try:
        ping(store)
        if hop.kind != REPLICA:
            return Finding(hop.name, Level.OK, f"{hop.kind} answers")
        status = replica_status(store)
    except (StoreUnavailable, StoreError) as exc:
        return Finding(hop.name, Level.CRITICAL, f"cannot read its state: {exc}")
    finally:
        store.close()
    if status is None:
        return Finding(hop.name, Level.CRITICAL, "not replicating: no replication configured")
    if not status.running:
        error = status.last_io_error or status.last_sql_error
        why = f": {error}" if error else ""
        text = f"replication stopped (IO {status.io_state}, SQL {status.sql_state}){why}"
        return Finding(hop.name, Level.CRITICAL, text)
    lag = "unknown" if status.seconds_behind is None else f"{status.seconds_behind} s"
    return Finding(hop.name, Level.OK, f"replicating, {lag} behind its primary")


def _against_source(hop: BackupHop, backup: Backup, by_name: dict[str, BackupHop]) -> list[Finding]:
    if hop.source is None:
        text = "no source hop: manifests not compared with a database (set source)"
        return [Finding(hop.name, Level.OK, text)]
    source_hop = by_name.get(hop.source)
    if source_hop is None:
        return [Finding(hop.name, Level.UNKNOWN, f"source hop {hop.source} is not defined")]
    try:
        store = open_database(hop_url(source_hop))
    except UserError as exc:
        return [Finding(hop.name, Level.WARNING, f"not compared with the source: {exc}")]
    if isinstance(store, str):
        return [Finding(hop.name, Level.WARNING, f"not compared with the source: {store}")]
    findings = []
    whole = []
    try:
        assert backup.marker is not None
        for table in backup.marker.tables:
            try:
                manifest = backup.manifest(table)
            except (OSError, ValueError, TypeError):
                continue  # reported by the integrity check
            if manifest.rows is None:
                whole.append(table)
                continue
            span = None
            if manifest.first_id is not None and manifest.last_id is not None:
                span = IdSpan(manifest.first_id, manifest.last_id)
            dumped = Snapshot(manifest.rows, manifest.sanitized, manifest.checksum)
            findings.append(against_source(hop.name, table, span, dumped, store, "the manifest"))
        if whole:
            text = (f"{len(whole)} tables updated in place, dumped whole, not compared with the "
                    f"source: {', '.join(whole)}")  # fmt: skip
            findings.append(Finding(hop.name, Level.OK, text))
    except (StoreUnavailable, StoreError) as exc:
        findings.append(Finding(hop.name, Level.WARNING, f"comparing with the source: {exc}"))
    finally:
        store.close()
    return findings
