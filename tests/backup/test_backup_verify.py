"""``el-monitor backup verify`` and ``check_el_backup`` over real dumps of tables the forwarder
filled: a fresh intact chain is OK; a backup missing, stale, shrunk, partial (no marker) and
tampered (file changed: sha256 mismatch; manifest edited: mismatch with the source) is each
found by both, with the same state; rows retention took since the dump are a note, not an
alarm.  The plugin runs once as a real process."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from el_monitor.backup.manifest import MANIFEST_SUFFIX, MARKER, Backup
from el_monitor.store import open_store

from .chain_support import (
    NAV,
    check,
    dump,
    event_tables,
    findings,
    forward_events,
    rewrite_dump,
    verify,
    write_catalog,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def chain(mysql_url, tmp_path):
    """300 events in three tables, one complete backup, and the catalog naming both."""
    forward_events(mysql_url, 300)
    dumps = tmp_path / "dumps"
    first = dump(mysql_url, dumps)
    return mysql_url, dumps, first, write_catalog(tmp_path, mysql_url, dumps)


def both(catalog, capsys, now=None) -> tuple[int, list[str], int, str]:
    code, lines = verify(catalog, capsys, now)
    state, status = check(catalog, capsys, now)
    return code, lines, state, status


def test_a_fresh_intact_chain_is_ok(chain, capsys):
    url, _, first, catalog = chain
    code, lines, state, status = both(catalog, capsys)
    assert code == 0 and state == 0, lines
    assert "OK       primary: primary answers" in lines
    assert any(f"{first.name}: " in line and "files match their manifests" in line
               for line in lines)  # fmt: skip
    for table in event_tables(url):
        assert any(f"archive: {table}: ids " in line and "match the source" in line
                   for line in lines)  # fmt: skip
    assert (
        "OK       archive: 3 tables updated in place, dumped whole, not compared with the "
        "source: el_monitor_counts, el_monitor_errors, el_monitor_sampling" in lines
    )
    assert lines[-1].startswith("backup verify: OK - ")
    assert status.startswith("EL_BACKUP OK - 2 hops verified (archive, primary)")
    assert "archive_age_hours=" in status and "critical=0" in status


def test_the_plugin_as_a_process_says_the_same(chain, tmp_path):
    _, dumps, first, catalog = chain
    shutil.rmtree(first)  # the only backup gone
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "el_monitor.checks.backup", "--config", str(catalog)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith(
        f"EL_BACKUP CRITICAL - archive: no complete backup in {dumps}: backups are missing"
    )


def test_a_missing_directory_and_a_missing_table_are_critical(chain, tmp_path, capsys):
    url, dumps, _, _ = chain
    gone = write_catalog(tmp_path, url, tmp_path / "unmounted")
    code, lines, state, status = both(gone, capsys)
    assert (code, state) == (2, 2)
    assert f"archive: backup directory {tmp_path / 'unmounted'} is missing" in status
    assert findings(lines, "CRITICAL") == [
        f"CRITICAL archive: backup directory {tmp_path / 'unmounted'} is missing (not created, "
        "or its mount is gone)"
    ]

    newest = dump(url, dumps, NAV)  # the next dump lacks two tables
    catalog = write_catalog(tmp_path, url, dumps)
    code, lines, state, status = both(catalog, capsys)
    assert (code, state) == (2, 2)
    first = Backup(dumps / sorted(p.name for p in dumps.iterdir())[0], None)
    gone_tables = sorted({p.name.removesuffix(MANIFEST_SUFFIX)
                          for p in first.path.glob(f"*{MANIFEST_SUFFIX}")} - {NAV})  # fmt: skip
    assert "EditAttemptStep_2_1_0" in gone_tables and "el_monitor_counts" in gone_tables
    assert [line for line in findings(lines, "CRITICAL") if "is missing (it was in" in line] == [
        f"CRITICAL archive: {newest.name}: {table} is missing (it was in {first.name})"
        for table in gone_tables
    ]
    assert f"archive: {newest.name}: EditAttemptStep_2_1_0 is missing (it was in" in status


def test_stale_is_a_warning_past_the_schedule_and_critical_past_twice_it(chain, capsys):
    _, _, first, catalog = chain
    now = datetime.datetime.now(datetime.UTC)
    code, lines, state, status = both(catalog, capsys, now + datetime.timedelta(hours=30))
    assert (code, state) == (1, 1)
    [stale] = findings(lines, "WARNING")
    assert stale.startswith(f"WARNING  archive: stale: newest complete backup {first.name}: 30.")
    assert "(schedule 1d)" in stale and "archive: stale:" in status
    code, lines, state, status = both(catalog, capsys, now + datetime.timedelta(hours=50))
    assert (code, state) == (2, 2)
    [stale] = findings(lines, "CRITICAL")
    assert stale.endswith("past twice its schedule")


@pytest.mark.parametrize(("share", "level", "code"), [(10, "WARNING", 1), (40, "CRITICAL", 2)])
def test_a_shrunk_backup_is_found(mysql_url, tmp_path, capsys, share, level, code):
    forward_events(mysql_url, 600)
    dumps = tmp_path / "dumps"
    tables = event_tables(mysql_url)
    dump(mysql_url, dumps, *tables, compress=False)
    store = open_store(mysql_url)
    try:
        for table in tables:  # every share-th row in ten goes
            store.execute(f"DELETE FROM `{table}` WHERE id % 10 < {share // 10}")
    finally:
        store.close()
    newest = dump(mysql_url, dumps, *tables, compress=False)
    catalog = write_catalog(tmp_path, mysql_url, dumps)
    result, lines, state, status = both(catalog, capsys)
    assert (result, state) == (code, code), lines
    total = [line for line in findings(lines, level) if f"{newest.name}: total" in line]
    assert len(total) == 1 and "shrunk:" in total[0], lines
    per_table = [line for line in findings(lines, level) if f"{newest.name}: {NAV} " in line]
    assert len(per_table) == 1, lines
    assert f"archive: shrunk: {newest.name}:" in status


def test_a_partial_dump_is_a_warning_and_no_complete_one_is_critical(chain, capsys):
    url, dumps, first, catalog = chain
    newest = dump(url, dumps)
    (newest / MARKER).unlink()  # as a dump killed before its end leaves it
    code, lines, state, status = both(catalog, capsys)
    assert (code, state) == (1, 1)
    assert findings(lines, "WARNING") == [
        f"WARNING  archive: partial backup {newest.name} (no completion marker): a dump "
        "failed or is still running"
    ]
    assert f"newest complete backup {first.name}" in " ".join(lines)
    assert "archive: partial backup" in status
    (first / MARKER).unlink()
    code, lines, state, status = both(catalog, capsys)
    assert (code, state) == (2, 2)
    assert f"no complete backup in {dumps} (2 partial)" in status


def test_a_changed_dump_file_is_critical(chain, capsys):
    _, _, first, catalog = chain
    rewrite_dump(first / f"{NAV}.sql.gz", lambda sql: sql.replace(b"enwiki", b"dewiki", 1))
    code, lines, state, status = both(catalog, capsys)
    assert (code, state) == (2, 2)
    [bad] = findings(lines, "CRITICAL")
    assert bad.startswith(f"CRITICAL archive: {first.name}: {NAV}: dump file {NAV}.sql.gz does "
                          "not match its manifest")  # fmt: skip
    assert bad.endswith("tampered or corrupt")
    assert "does not match its manifest" in status


def test_an_edited_manifest_mismatches_the_source(chain, capsys):
    _, _, first, catalog = chain
    path = first / f"{NAV}{MANIFEST_SUFFIX}"
    manifest = json.loads(path.read_text())
    manifest["checksum"] += 1
    path.write_text(json.dumps(manifest))
    code, lines, state, status = both(catalog, capsys)
    assert (code, state) == (2, 2)
    bad = findings(lines, "CRITICAL")
    assert any(f"{NAV}: manifest changed since the dump completed" in line for line in bad)
    [mismatch] = [line for line in bad if "at the source" in line]
    assert f"archive: {NAV}: checksum of ids {manifest['first_id']}..{manifest['last_id']}" in (
        mismatch
    )
    assert f"{manifest['checksum']} in the manifest (same {manifest['rows']} rows)" in mismatch

    manifest["checksum"] -= 1
    manifest["rows"] -= 1  # fewer rows than the source holds in the range: no purge does that
    path.write_text(json.dumps(manifest))
    code, lines, _, status = both(catalog, capsys)
    assert code == 2
    assert any(f"the source holds {manifest['rows'] + 1} rows in ids" in line for line in lines)


def test_rows_retention_took_since_the_dump_are_a_note(chain, capsys):
    url, _, _, catalog = chain
    store = open_store(url)
    try:
        [(low,)] = store.query(f"SELECT MIN(id) FROM `{NAV}`")
        store.execute(f"DELETE FROM `{NAV}` WHERE id < %s", (low + 10,))  # purged
        store.execute("ALTER TABLE `SearchSatisfaction_1_5_0` ADD COLUMN el_retention TINYINT")
        store.execute("UPDATE `SearchSatisfaction_1_5_0` SET el_retention = 1, "
                      "event_query = NULL ORDER BY id LIMIT 5")  # fmt: skip
    finally:
        store.close()
    code, lines, state, _ = both(catalog, capsys)
    assert (code, state) == (0, 0), lines
    notes = [line for line in lines if "no longer whole at the source" in line]
    assert len(notes) == 2
    assert f"{NAV}: ids " in notes[0] or f"{NAV}: ids " in notes[1]
    assert any("10 rows deleted, 0 more sanitized" in n for n in notes)
    assert any("0 rows deleted, 5 more sanitized" in n for n in notes)
