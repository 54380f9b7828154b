"""``cli.stores.opened_store``: the one way a command opens ``--db``, or fails in one line."""

from __future__ import annotations

import logging
import os

import pytest

from el_monitor.cli.stores import opened_store
from el_monitor.errors import UserError
from el_monitor.store import StoreError, StoreUnavailable, open_store

DOWN = "mysql://root@127.0.0.1:1/none"  # nothing listens on port 1


def test_a_missing_sqlite_file_is_refused_and_not_created(tmp_path):
    missing = tmp_path / "none.db"
    with (
        pytest.raises(UserError, match=f"database {missing} does not exist; check --db"),
        opened_store(f"sqlite:///{missing}", doing="read"),
    ):
        pass
    assert not missing.exists()


def test_create_makes_the_sqlite_file_and_the_block_gets_an_open_store(tmp_path):
    path = tmp_path / "new.db"
    with opened_store(f"sqlite:///{path}", doing="write", create=True) as store:
        assert store.tables() == []
    assert path.is_file()


def test_an_existing_file_opens_and_is_closed_after_the_block(tmp_path):
    url = f"sqlite:///{tmp_path}/el.db"
    open_store(url).close()
    with opened_store(url, doing="read") as store:
        assert store.tables() == []
    with pytest.raises(StoreError, match="closed database"):
        store.tables()


def test_an_unreachable_server_is_one_line_with_the_commands_hint():
    with (
        pytest.raises(
            UserError, match=r"cannot connect .*\(is the database running\? check --db\)$"
        ),
        opened_store(DOWN, doing="read"),
    ):
        pass
    hint = "with --spool-dir it starts anyway"
    with (
        pytest.raises(UserError, match=r"check --db; with --spool-dir it starts anyway\)$"),
        opened_store(DOWN, doing="write", hint=hint),
    ):
        pass


def test_with_a_spool_an_unreachable_server_is_only_warned_about(tmp_path, caplog):
    with opened_store(DOWN, doing="write", create=True, spool_dir=str(tmp_path)) as store:
        assert store.url == DOWN
    assert f"starting anyway, spooling to {tmp_path} until it answers" in caplog.text
    assert caplog.records[-1].levelno == logging.WARNING


def test_store_errors_escaping_the_block_become_one_line(tmp_path):
    url = f"sqlite:///{tmp_path}/el.db"
    with (
        pytest.raises(UserError, match="^cannot read the counts: no such table$"),
        opened_store(url, doing="read the counts", create=True),
    ):
        raise StoreError("no such table")
    with (
        pytest.raises(UserError, match=r"^went away \(is the database running\? check --db\)$"),
        opened_store(url, doing="read the counts"),
    ):
        raise StoreUnavailable("went away")


@pytest.mark.mysql
def test_refusals_a_restart_would_not_cure_have_their_own_fix(mysql_server_url):
    """A wrong password, an account without a grant and a missing database each say what to
    do, not "is the database running?"."""
    import secrets
    from urllib.parse import urlsplit

    from conftest import mysql_connect

    parts = urlsplit(mysql_server_url)
    server = f"{parts.hostname}:{parts.port or 3306}"
    user = f"elm_nogrant_{secrets.token_hex(4)}"
    missing = f"elm_missing_{secrets.token_hex(4)}"
    with mysql_connect(mysql_server_url) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
        try:
            cases = {
                f"mysql://{user}:wrong@{server}/test": r"\(check the user and password of --db\)$",
                f"mysql://{user}:pw@{server}/test": r"\(grant the account what the command needs"
                r" on `test` \(forwarder: INSERT, CREATE;.*\)\)$",
                f"mysql://root@{server}/{missing}": rf"\(create it: CREATE DATABASE `{missing}`"
                r" CHARACTER SET utf8mb4\)$",
            }
            for url, fix in cases.items():
                refused = pytest.raises(UserError, match=fix)
                with refused, opened_store(url, doing="read", hint="never shown"):
                    pass
        finally:
            cursor.execute(f"DROP USER '{user}'@'%'")


@pytest.mark.mysql
def test_the_password_comes_from_a_file_or_the_environment(mysql_url, tmp_path, monkeypatch):
    """--db-password-file (every command with --db, the forwarder too) and MYSQL_PWD: the
    password is in neither argv nor the URL."""
    import secrets
    import subprocess
    import sys
    from urllib.parse import urlsplit

    from conftest import mysql_connect
    from helpers import ROOT, SCHEMAS

    parts = urlsplit(mysql_url)
    user, password = f"elm_pw_{secrets.token_hex(4)}", secrets.token_hex(8)
    database = parts.path.lstrip("/")
    url = f"mysql://{user}@{parts.hostname}:{parts.port or 3306}/{database}"
    secret = tmp_path / "db.pass"
    secret.write_text(password + "\n")
    command = [sys.executable, "-m", "el_monitor.cli.main"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MYSQL_PWD", None)
    with mysql_connect(mysql_url) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cursor.execute(f"GRANT ALL ON `{database}`.* TO '{user}'@'%'")
        try:
            forward = [*command, "forward", "--schemas", str(SCHEMAS), "--db", url]
            done = subprocess.run([*forward, "--db-password-file", str(secret)], env=env,
                                  input=b"", capture_output=True)  # fmt: skip
            assert done.returncode == 0, done.stderr
            schemas = [*command, "schemas", "--schemas", str(SCHEMAS), "--db", url]
            done = subprocess.run(schemas, env=env, capture_output=True)
            assert done.returncode == 2 and b"Access denied" in done.stderr  # no password
            done = subprocess.run(schemas, env={**env, "MYSQL_PWD": password}, capture_output=True)
            assert done.returncode == 0, done.stderr
            missing = subprocess.run([*schemas, "--db-password-file", str(tmp_path / "none")],
                                     env=env, capture_output=True)  # fmt: skip
            assert missing.returncode == 2
            assert missing.stderr.decode().startswith("el-monitor: cannot read the password file")
        finally:
            cursor.execute(f"DROP USER '{user}'@'%'")
