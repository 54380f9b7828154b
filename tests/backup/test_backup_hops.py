"""The catalog's ``[backup]`` hops (loaded, every problem a FILE:LINE) and the database hops as
verify judges them on private servers: a primary that answers or is down, a replica that
replicates or whose replication stopped (CRITICAL with the replica's own state)."""

from __future__ import annotations

import textwrap

import pytest

from el_monitor.backup.findings import Level
from el_monitor.backup.hops import hop_url
from el_monitor.backup.verify import verify_chain
from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import BackupHop, CatalogError
from el_monitor.cli.main import main as el_monitor
from el_monitor.errors import UserError

GOOD = """
[[backup.hop]]
name = "db1"
kind = "primary"
db = "mysql://el@db1.example.org:3306/log"
password_file = "db-password"

[[backup.hop]]
name = "archive"
kind = "dumps"
dir = "/mnt/archive"
source = "db1"
schedule = "26h"
warn_shrink = "3%"
"""


def load(tmp_path, text: str):
    path = tmp_path / "el-monitor.toml"
    path.write_text(textwrap.dedent(text))
    return load_catalog(path)


def test_hops_load_with_defaults(tmp_path):
    catalog = load(tmp_path, GOOD)
    db1, archive = catalog.backup
    assert db1 == BackupHop(
        name="db1",
        kind="primary",
        db="mysql://el@db1.example.org:3306/log",
        password_file=str(tmp_path / "db-password"),
    )
    assert (archive.dir, archive.source, archive.schedule_seconds) == ("/mnt/archive", "db1", 93600)
    assert (archive.warn_shrink, archive.crit_shrink) == (3.0, 15.0)
    assert catalog.hop("archive") is archive and catalog.hop("nope") is None


def test_every_problem_is_reported_with_its_line(tmp_path):
    text = """
    [backup]
    hops = 1

    [[backup.hop]]
    name = "db1"
    kind = "primary"
    db = "mysql://el:secret@db1/log"
    schedule = "1d"

    [[backup.hop]]
    name = "db1"
    kind = "mirror"

    [[backup.hop]]
    name = "archive"
    kind = "dumps"
    dir = "/mnt/a"
    source = "db9"
    schedule = "1 fortnight"
    warn_shrink = 20

    [[backup.hop]]
    name = "archive2"
    kind = "dumps"
    dir = "/mnt/b"
    source = "db9"
    schedule = "30d"
    warn_shrink = 20
    crit_shrink = "150%"
    """
    with pytest.raises(CatalogError) as raised:
        load(tmp_path, text)
    path = tmp_path / "el-monitor.toml"
    assert raised.value.problems == [
        f"{path}:3: backup.hops: unknown key 'hops' (did you mean 'hop'?)",
        f"{path}:8: backup.hop[0].db: no passwords in the catalog: name a password_file",
        f"{path}:9: backup.hop[0].schedule: not a key of a primary hop",
        f"{path}:13: backup.hop[1].kind: must be one of 'primary', 'replica', 'dumps', "
        'not "mirror"',
        f"{path}:20: backup.hop[2].schedule: must be how old the newest complete dump may get, "
        'such as "26h", "1d" or "30d", not "1 fortnight"',
        f'{path}:30: backup.hop[3].crit_shrink: must be a percentage such as 5 or "5%", not "150%"',
    ]


def test_a_source_must_name_a_database_hop(tmp_path):
    with pytest.raises(CatalogError) as raised:
        load(tmp_path, GOOD.replace('source = "db1"', 'source = "archive"'))
    assert raised.value.problems == [
        f"{tmp_path / 'el-monitor.toml'}:12: backup.hop[1].source: 'archive' names no primary "
        "or replica hop; use one of: db1"
    ]


def test_replicas_and_primaries_as_verify_sees_them(mariadb_servers, tmp_path):
    primary = mariadb_servers(1)
    replica = mariadb_servers(2)
    replica.replicate_from(primary)
    hops = (
        BackupHop("p", "primary", db=primary.url),
        BackupHop("r", "replica", db=replica.url),
        BackupHop("not-a-replica", "replica", db=primary.url),
    )
    found = verify_chain(hops, now=None)  # type: ignore[arg-type]  # no dumps hop: no clock
    assert [(f.hop, f.level) for f in found] == [
        ("p", Level.OK),
        ("r", Level.OK),
        ("not-a-replica", Level.CRITICAL),
    ]
    assert found[1].text.startswith("replicating, ") and found[1].text.endswith(
        " behind its primary"
    )
    assert found[2].text == "not replicating: no replication configured"

    replica.execute("STOP SLAVE SQL_THREAD")
    [_, stopped, _] = verify_chain(hops, now=None)  # type: ignore[arg-type]
    assert stopped.level is Level.CRITICAL
    assert stopped.text.startswith("replication stopped (IO ")  # IO Yes (or reconnecting)
    assert ", SQL No)" in stopped.text

    primary.stop()
    [down, *_] = verify_chain(hops, now=None)  # type: ignore[arg-type]
    assert down.level is Level.CRITICAL
    assert down.text.startswith(f"unreachable: cannot connect to {primary.url}")


def test_a_password_file_goes_into_the_url_and_never_the_catalog(tmp_path):
    (tmp_path / "db-password").write_text("s3cr@t/pw\n")
    db1, _ = load(tmp_path, GOOD).backup
    assert hop_url(db1) == "mysql://el:s3cr%40t%2Fpw@db1.example.org:3306/log"
    (tmp_path / "db-password").unlink()
    with pytest.raises(UserError, match="hop db1: cannot read the password file"):
        hop_url(db1)


def test_verify_without_hops_is_unknown_in_one_line(tmp_path, capsys):
    path = tmp_path / "el-monitor.toml"
    path.write_text("[defaults]\nretention_days = 90\n")
    assert el_monitor(["backup", "verify", "--config", str(path)]) == 3
    assert capsys.readouterr().err == (
        f"el-monitor: backup verify: {path} has no [[backup.hop]]: nothing to verify; "
        "check --config\n"
    )
    path.write_text(GOOD)
    assert el_monitor(["backup", "verify", "--config", str(path), "--hop", "db9"]) == 3
    assert "no backup hop db9 in the catalog (hops: db1, archive)" in capsys.readouterr().err
