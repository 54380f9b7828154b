"""``el-monitor backup dump`` on the shared server, over tables the forwarder filled: a new dated
directory per run, per table a dump file and a manifest whose numbers are the source's (rows,
id range, range checksum, sanitized rows) and whose sha256 and size are the file's, and the
completion marker listing each manifest's digest; rows stored after a dump are the next one's."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from el_monitor.backup.manifest import MARKER, Backup, list_backups
from el_monitor.cli.main import main as el_monitor
from el_monitor.store import open_store
from el_monitor.store.checksum import range_checksum

from .chain_support import NAV, dump, event_tables, forward_events


def test_a_dump_has_a_correct_manifest_per_table_and_the_marker(mysql_url, tmp_path):
    assert forward_events(mysql_url, 300) == 300
    tables = event_tables(mysql_url)
    assert len(tables) == 3
    directory = dump(mysql_url, tmp_path / "dumps")

    [backup] = list_backups(tmp_path / "dumps")
    assert backup.path == directory and backup.marker is not None
    marker = json.loads((directory / MARKER).read_text())
    assert set(marker["tables"]) >= set(tables)  # the bookkeeping tables too
    store = open_store(mysql_url)
    try:
        total = 0
        for manifest in backup.manifests():
            data = (directory / manifest.file).read_bytes()
            assert manifest.sha256 == hashlib.sha256(data).hexdigest()
            assert manifest.size == len(data)
            digest = hashlib.sha256(backup.manifest_path(manifest.table).read_bytes())
            assert marker["tables"][manifest.table] == digest.hexdigest()
            ids = [int(i) for (i,) in store.query(f"SELECT id FROM `{manifest.table}`")]
            assert manifest.rows == len(ids)
            total += manifest.rows
            if ids:
                assert (manifest.first_id, manifest.last_id) == (min(ids), max(ids))
                found = range_checksum(store, manifest.table, min(ids), max(ids))
                assert (manifest.rows, manifest.checksum) == (found.rows, found.checksum)
            assert manifest.tool == "mariadb-dump" and manifest.exit_status == 0
            assert manifest.tool_version.startswith("mariadb-dump")
            assert manifest.started <= manifest.ended and manifest.attempts == 1
            assert b"INSERT INTO" in gzip.decompress(data) or not ids
        assert marker["rows"] == total and total >= 300
    finally:
        store.close()


def test_rows_stored_after_a_dump_are_in_the_next_one(mysql_url, tmp_path):
    forward_events(mysql_url, 90)
    first_dir = dump(mysql_url, tmp_path / "d", NAV)
    first = Backup(first_dir, None).manifest(NAV)
    forward_events(mysql_url, 90, start=90)
    second_dir = dump(mysql_url, tmp_path / "d", NAV, compress=False)
    second = Backup(second_dir, None).manifest(NAV)
    assert second_dir != first_dir and second_dir.name > first_dir.name  # dated, one per run
    assert first.rows == 30 and second.rows == 60
    assert second.first_id == first.first_id and second.last_id > first.last_id  # type: ignore[operator]
    assert second.file == f"{NAV}.sql"
    assert (second_dir / second.file).read_bytes().count(b"INSERT INTO") >= 1


def test_dry_run_writes_nothing_and_unknown_tables_are_one_line(mysql_url, tmp_path, capsys):
    forward_events(mysql_url, 30)
    argv = ["backup", "dump", "--db", mysql_url, "--to", str(tmp_path / "d")]
    assert el_monitor([*argv, "--dry-run", "--table", NAV]) == 0
    out = capsys.readouterr().out
    assert NAV in out and "10" in out and "dry run: nothing written" in out
    assert not (tmp_path / "d").exists()
    assert el_monitor([*argv, "--table", "Nope_1"]) == 2
    assert "no table Nope_1" in capsys.readouterr().err
    assert not list((tmp_path / "d").glob("*/*"))


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/el.db"])
def test_sqlite_is_refused_in_one_line(url, tmp_path, capsys):
    forward_url = url.format(tmp=tmp_path)
    open_store(forward_url).close()
    code = el_monitor(["backup", "dump", "--db", forward_url, "--to", str(tmp_path / "d")])
    assert code == 2
    assert "backup dump needs MariaDB or MySQL" in capsys.readouterr().err
