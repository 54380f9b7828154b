"""``el-monitor backup dump`` on the shared server, over tables the forwarder filled: a new dated
directory per run, per table a dump file and a manifest whose numbers are the source's (rows,
id range, range checksum, sanitized rows) and whose sha256 and size are the file's, and the
completion marker listing each manifest's digest; rows stored after a dump are the next one's."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading

import pytest
from harness.wait import wait_until

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
            assert manifest.tool == "mariadb-dump" and manifest.exit_status == 0
            assert manifest.tool_version.startswith("mariadb-dump")
            assert manifest.started <= manifest.ended and manifest.attempts == 1
            if manifest.table not in tables:  # counts and state, updated in place: whole
                assert manifest.table.startswith("el_monitor_")
                assert (manifest.rows, manifest.first_id, manifest.checksum) == (None,) * 3
                assert b"CREATE TABLE" in gzip.decompress(data)
                continue
            ids = [int(i) for (i,) in store.query(f"SELECT id FROM `{manifest.table}`")]
            assert manifest.rows == len(ids)
            total += manifest.rows
            if ids:
                assert (manifest.first_id, manifest.last_id) == (min(ids), max(ids))
                found = range_checksum(store, manifest.table, min(ids), max(ids))
                assert (manifest.rows, manifest.checksum) == (found.rows, found.checksum)
            assert gzip.decompress(data).count(b"INSERT INTO") >= 1
        assert marker["rows"] == total == 300
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


def test_dry_run_writes_nothing_and_user_errors_are_one_line(mysql_url, tmp_path, capsys):
    forward_events(mysql_url, 30)
    argv = ["backup", "dump", "--db", mysql_url, "--to", str(tmp_path / "d")]
    assert el_monitor([*argv, "--dry-run", "--table", NAV]) == 0
    out = capsys.readouterr().out
    assert NAV in out and "10" in out and "dry run: nothing written" in out
    assert not (tmp_path / "d").exists()
    assert el_monitor([*argv, "--table", "Nope_1"]) == 2
    assert "no table Nope_1" in capsys.readouterr().err
    assert not list((tmp_path / "d").glob("*/*"))
    (tmp_path / "file").write_text("not a directory")
    argv = ["backup", "dump", "--db", mysql_url, "--to", str(tmp_path / "file" / "d")]
    assert el_monitor(argv) == 2
    assert capsys.readouterr().err.startswith(
        f"el-monitor: backup dump: cannot write under {tmp_path / 'file' / 'd'}: "
    )


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/el.db"])
def test_sqlite_is_refused_in_one_line(url, tmp_path, capsys):
    forward_url = url.format(tmp=tmp_path)
    open_store(forward_url).close()
    code = el_monitor(["backup", "dump", "--db", forward_url, "--to", str(tmp_path / "d")])
    assert code == 2
    assert "backup dump needs MariaDB or MySQL" in capsys.readouterr().err


def test_a_dump_under_live_inserts_restores_as_its_manifests_say(mysql_url, mysql_server_url,
                                                                 tmp_path, capsys):  # fmt: skip
    """The forwarder keeps storing while tables are dumped: every manifest still states what
    its file holds (the restore drill finds each restored range equal to its manifest)."""
    forward_events(mysql_url, 3000)
    stop = threading.Event()
    stored = []

    def keep_forwarding() -> None:
        start = 3000
        while not stop.is_set():
            stored.append(forward_events(mysql_url, 300, start=start))
            start += 300

    writer = threading.Thread(target=keep_forwarding)
    writer.start()
    try:
        wait_until(lambda: stored, 60, "the forwarder storing beside the dump")
        backup = dump(mysql_url, tmp_path / "d", *event_tables(mysql_url))
    finally:
        stop.set()
        writer.join(60)
    capsys.readouterr()
    code = el_monitor(["drill", "restore", "--db", mysql_server_url, "--from", str(backup)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("checksum as in the manifest") == 3
    total = sum(
        m.rows or 0 for m in (Backup(backup, None).manifest(t) for t in event_tables(mysql_url))
    )
    assert 3000 <= total < 3000 + sum(stored) + 300
