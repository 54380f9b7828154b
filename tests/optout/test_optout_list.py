"""The opt-out list file and `el-monitor optout add|list|remove`: only hashes are stored, ids
from stdin, bad ids refused, the secret and list found through the catalog, malformed lines
named, and a changed file seen."""

from __future__ import annotations

import io
import json
import logging
import os

import pytest

from el_monitor.errors import UserError
from el_monitor.optout.listfile import OptOutList, add_optout
from el_monitor.optout.secret import SECRET_ENV

from .support import SECRET, TOKEN, USER, reference, run_cli


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """A fresh working directory with the secret in the environment and no catalog."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    return tmp_path


def test_add_list_remove_store_only_hashes(cwd, state_directory, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    listed = state_directory / "el-monitor-optout.jsonl"
    user_hash = reference(SECRET, "enwiki", "user-id", USER)
    token_hash = reference(SECRET, "dewiki", "token", TOKEN)
    assert run_cli("optout") == 2  # usage
    assert run_cli("optout", "add", "--wiki", "enwiki", "--user-id", USER) == 0
    assert run_cli("optout", "add", "--wiki", "dewiki", "--token", TOKEN) == 0
    assert run_cli("optout", "add", "--wiki", "enwiki", "--user-id", "0" + USER) == 0
    out = capsys.readouterr().out
    assert "already present" in out and user_hash in out
    entries = [json.loads(line) for line in listed.read_text().splitlines()]
    assert [e["hash"] for e in entries] == [user_hash, token_hash]
    assert all(set(e) == {"hash", "added"} and e["added"].endswith("Z") for e in entries)

    assert run_cli("optout", "list") == 0
    assert run_cli("optout", "list", "--json") == 0
    text, as_json = capsys.readouterr().out.split("[", 1)
    assert text.split() == [user_hash, entries[0]["added"], token_hash, entries[1]["added"]]
    assert json.loads("[" + as_json) == entries

    assert run_cli("optout", "remove", "--wiki", "dewiki", "--token", TOKEN) == 0
    assert run_cli("optout", "remove", "--hash", user_hash) == 0
    assert run_cli("optout", "remove", "--hash", user_hash) == 1  # not listed: said, not silent
    out, err = capsys.readouterr()
    assert "removed" in out and f"not in {listed}: {user_hash} (nothing removed)" in err
    assert OptOutList.load(listed).hashes == frozenset()
    assert list(cwd.iterdir()) == []  # neither the list nor its lock in the working directory

    everything = listed.read_text() + out + err + caplog.text
    assert USER not in everything and TOKEN not in everything


def test_ids_can_come_from_stdin_and_bad_ids_are_refused(cwd, state_directory, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(USER + "\n"))
    assert run_cli("optout", "add", "--wiki", "enwiki", "--user-id", "-") == 0
    hashes = OptOutList.load(state_directory / "el-monitor-optout.jsonl").hashes
    assert hashes == {reference(SECRET, "enwiki", "user-id", USER)}
    with pytest.raises(UserError, match="--user-id"):
        run_cli("optout", "add", "--wiki", "enwiki", "--user-id", "12a")
    with pytest.raises(UserError, match="logged-out"):
        run_cli("optout", "add", "--wiki", "enwiki", "--user-id", "000")
    assert run_cli("optout", "add", "--wiki", "enwiki", "--user-id", "9" * 5000) == 0
    with pytest.raises(UserError, match="--wiki"):
        run_cli("optout", "add", "--wiki", "en wiki", "--token", "t")
    with pytest.raises(SystemExit):  # argparse: exactly one of --user-id / --token
        run_cli("optout", "add", "--wiki", "enwiki")


def test_catalog_names_the_secret_and_list_relative_to_itself(cwd, monkeypatch):
    monkeypatch.delenv(SECRET_ENV)
    conf = cwd / "conf"
    conf.mkdir()
    (conf / "secret").write_bytes(b"catalog-secret\n")
    (conf / "secret").chmod(0o600)
    (conf / "el.toml").write_text('secret_file = "secret"\noptout_file = "optout.jsonl"\n')
    with pytest.raises(UserError, match=SECRET_ENV):
        run_cli("optout", "add", "--wiki", "enwiki", "--user-id", "7")
    assert (
        run_cli("--config", "conf/el.toml", "optout", "add", "--wiki", "enwiki", "--user-id", "7")
        == 0
    )
    assert (
        run_cli("optout", "add", "--wiki", "enwiki", "--user-id", "8", "--config", "conf/el.toml")
        == 0
    )
    hashes = OptOutList.load(conf / "optout.jsonl").hashes
    assert hashes == {reference(b"catalog-secret", "enwiki", "user-id", v) for v in ("7", "8")}


def test_malformed_list_line_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text(json.dumps({"hash": "a" * 64, "added": "x"}) + "\nnot json\n")
    with pytest.raises(UserError, match=r"list\.jsonl:2:"):
        OptOutList.load(path)
    path.write_text(json.dumps({"hash": "A" * 64, "added": "x"}) + "\n")
    with pytest.raises(UserError, match=r":1: hash"):
        OptOutList.load(path)


def test_reload_sees_a_changed_file(tmp_path):
    path = tmp_path / "list.jsonl"
    empty = OptOutList.load(path)
    assert empty.hashes == frozenset() and empty.mtime is None and not empty.changed()
    add_optout(path, SECRET, "enwiki", "user-id", "1")
    assert empty.changed()
    first = OptOutList.load(path)
    assert first.mtime is not None and not first.changed()
    os.utime(path, ns=(0, 0))  # even an in-place edit with an old mtime counts
    assert first.changed()
    add_optout(path, SECRET, "enwiki", "user-id", "2")
    second = OptOutList.load(path)
    assert second.mtime != first.mtime and len(second.hashes) == 2
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary files


def test_the_state_directory_is_systemds_else_xdgs_else_the_homes(monkeypatch, tmp_path):
    from el_monitor.optout.listfile import resolve_optout_path, state_directory

    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/a:{tmp_path}/b")
    assert resolve_optout_path(None, None) == tmp_path / "a" / "el-monitor-optout.jsonl"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_directory() == tmp_path / "xdg" / "el-monitor"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_directory() == tmp_path / "home" / ".local" / "state" / "el-monitor"
