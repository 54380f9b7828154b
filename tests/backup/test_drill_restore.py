"""``el-monitor drill restore`` on the shared server: the newest complete backup of tables the
forwarder filled is loaded into a scratch database, compared with its manifests and the source,
every step timed; a corrupt dump (a value changed in its SQL, or a truncated file) fails the
drill naming the table; the scratch database is gone afterwards either way."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from conftest import mysql_connect
from harness.wait import wait_until

from el_monitor.cli.main import main as el_monitor
from el_monitor.store import open_store

from .chain_support import NAV, dump, forward_events, rewrite_dump, write_catalog

ROOT = Path(__file__).resolve().parents[2]
SCRATCH = re.compile(r"scratch database (el_drill_\w+): dropped")


def drill(argv: list[str], server: str, capsys) -> tuple[int, str, str]:
    """Run the drill; exit status, output, and the scratch database it named (checked gone)."""
    capsys.readouterr()  # what the dumps printed
    code = el_monitor(["drill", "restore", "--db", server, *argv])
    out = capsys.readouterr().out
    found = SCRATCH.search(out)
    assert found, out
    with mysql_connect(server) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW DATABASES LIKE %s", (found[1],))
        assert cursor.fetchall() == (), f"{found[1]} left behind"
    return code, out, found[1]


def test_a_restore_drill_passes_and_times_each_step(mysql_url, mysql_server_url, tmp_path,
                                                    capsys):  # fmt: skip
    forward_events(mysql_url, 240)
    dumps = tmp_path / "dumps"
    dump(mysql_url, dumps)
    newest = dump(mysql_url, dumps)
    catalog = write_catalog(tmp_path, mysql_url, dumps)
    code, out, scratch = drill(["--config", str(catalog)], mysql_server_url, capsys)
    assert code == 0, out
    assert out.startswith(f"restore drill of {newest} into {scratch}")
    assert f"OK       drill: {NAV}: restored 80 rows, ids 1..80, checksum as in the manifest" in out
    assert f"OK       drill: {NAV}: ids 1..80 match the source (80 rows)" in out
    for step in ("check file", "load", "compare with manifest", "compare with source"):
        assert re.search(rf"^{NAV}: {step} +\d+\.\d\d$", out, re.M), step
    assert re.search(r"^total +\d+\.\d\d$", out, re.M)
    # 3 event tables against their manifests and the source, 3 bookkeeping ones restored
    assert "OK       drill: el_monitor_counts: restored (updated in place: its manifest " in out
    assert out.rstrip().endswith("drill restore: OK - 9 ok over 1 hop")


def test_a_corrupt_dump_fails_the_drill(mysql_url, mysql_server_url, tmp_path, capsys):
    forward_events(mysql_url, 60)
    backup = dump(mysql_url, tmp_path / "dumps", NAV, compress=False)
    rewrite_dump(backup / f"{NAV}.sql", lambda sql: sql.replace(b"enwiki", b"dewiki", 1))
    argv = ["--from", str(tmp_path / "dumps"), "--source", mysql_url]
    code, out, _ = drill(argv, mysql_server_url, capsys)
    assert code == 2, out
    assert f"CRITICAL drill: {NAV}: {NAV}.sql does not match its manifest's sha256" in out
    [differs] = [line for line in out.splitlines() if "differs from its manifest" in line]
    assert differs.startswith(f"CRITICAL drill: {NAV}: restored table differs from its manifest:")
    assert "checksum " in differs and "rows" not in differs  # the same 20 rows, one value changed
    assert f"CRITICAL drill: {NAV}: checksum of ids 1..20 is" in out  # and not the source's
    assert "drill restore: CRITICAL" in out


def test_a_truncated_dump_fails_to_load(mysql_url, mysql_server_url, tmp_path, capsys):
    forward_events(mysql_url, 60)
    backup = dump(mysql_url, tmp_path / "dumps", NAV)
    path = backup / f"{NAV}.sql.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    code, out, _ = drill(["--from", str(backup)], mysql_server_url, capsys)
    assert code == 2, out
    assert f"CRITICAL drill: {NAV}: restore failed:" in out
    store = open_store(mysql_url)  # the source is untouched
    try:
        assert store.query(f"SELECT COUNT(*) FROM `{NAV}`") == [(20,)]
    finally:
        store.close()


def test_nothing_to_restore_is_one_line(mysql_server_url, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = el_monitor(["drill", "restore", "--db", mysql_server_url, "--from",
                       str(tmp_path / "empty")])  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == (
        f"el-monitor: no complete backup in {tmp_path / 'empty'}: nothing to restore\n"
    )


def test_sigterm_mid_drill_drops_the_scratch_database(mysql_url, mysql_server_url, tmp_path):
    """The dump file is a FIFO nobody writes: the drill waits on it with its scratch database
    made, and SIGTERM (systemd stopping it) is taken as Ctrl-C: the database is dropped."""
    forward_events(mysql_url, 30)
    backup = dump(mysql_url, tmp_path / "dumps", NAV)
    path = backup / f"{NAV}.sql.gz"
    path.unlink()
    os.mkfifo(path)

    def scratch() -> list[str]:
        with mysql_connect(mysql_server_url) as conn, conn.cursor() as cursor:
            cursor.execute("SHOW DATABASES LIKE 'el\\_drill\\_%'")
            return [name for (name,) in cursor.fetchall()]

    before = set(scratch())
    argv = ["drill", "restore", "--db", mysql_server_url, "--from", str(backup)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "el_monitor.cli", *argv]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with subprocess.Popen(command, env=env, **pipes) as child:  # type: ignore[call-overload]
        made = wait_until(lambda: set(scratch()) - before, 60, "the drill's scratch database")
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    assert child.returncode == 130, out + err
    assert not made & set(scratch()), f"{made} left behind"
