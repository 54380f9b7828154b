"""Opt-out: keyed hashes, the secret, the list file and CLI, the matcher, purge and progress."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import logging
import os
from types import MappingProxyType

import pytest

from el_monitor.catalog.model import Catalog, SchemaPolicy
from el_monitor.cli.optout import register
from el_monitor.errors import UserError
from el_monitor.optout.checkpoint import checkpoint_path
from el_monitor.optout.identity import identity_hash
from el_monitor.optout.listfile import OptOutList, add_optout
from el_monitor.optout.matcher import OptOutMatcher
from el_monitor.optout.purge import purge
from el_monitor.optout.secret import SECRET_ENV, read_secret_file, resolve_secret
from el_monitor.progress import Progress
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

SECRET = b"site-secret-for-tests"
USER = "987654321"  # must never show up in a file, a table or any output
TOKEN = "sekrit-token-5f3a"


def reference(secret: bytes, wiki: str, kind: str, value: str) -> str:
    return hmac.new(secret, f"{wiki}\x1f{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()


def catalog(**user_fields: tuple[str, ...]) -> Catalog:
    schemas = {name: SchemaPolicy(name, user_fields=f) for name, f in user_fields.items()}
    return Catalog(path=None, defaults=SchemaPolicy("*"), schemas=MappingProxyType(schemas))


def capsule(schema: str, event: dict, wiki: str = "enwiki") -> dict:
    return {"schema": schema, "revision": "1", "wiki": wiki, "event": event}


# --- identity and secret -------------------------------------------------------------------


def test_identity_hash_is_hmac_sha256_of_wiki_kind_value():
    assert identity_hash(SECRET, "enwiki", "user-id", 42) == reference(
        SECRET, "enwiki", "user-id", "42"
    )
    assert identity_hash(SECRET, "enwiki", "token", "abc") == reference(
        SECRET, "enwiki", "token", "abc"
    )
    with pytest.raises(ValueError):
        identity_hash(SECRET, "enwiki", "email", "x")


@pytest.mark.parametrize("secret", [b"k", b"k" * 64, b"k" * 65, bytes(range(200))])
def test_matcher_hmac_agrees_with_hmac_module_for_any_key_length(secret):
    hashes = frozenset({reference(secret, "enwiki", "token", TOKEN)})
    matcher = OptOutMatcher(secret, hashes, catalog(T=("token",)))
    assert matcher.matches(capsule("T", {"token": TOKEN}))
    assert not matcher.matches(capsule("T", {"token": TOKEN + "x"}))


def test_secret_comes_from_file_then_catalog_then_environment(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"from-flag\n")
    second.write_bytes(b"from-catalog")
    for file in (first, second):
        file.chmod(0o600)
    cat = Catalog(path=None, defaults=SchemaPolicy("*"), secret_file=str(second))
    env = {SECRET_ENV: "from-env"}
    assert resolve_secret(first, cat, env) == b"from-flag"
    assert resolve_secret(None, cat, env) == b"from-catalog"
    assert resolve_secret(None, catalog(), env) == b"from-env"
    assert resolve_secret(None, None, env) == b"from-env"


def test_no_secret_is_an_error_naming_all_three_ways():
    with pytest.raises(UserError) as error:
        resolve_secret(None, catalog(), {})
    message = str(error.value)
    assert "--secret-file" in message and "secret_file" in message and SECRET_ENV in message


def test_secret_file_must_exist_and_not_be_empty_and_loses_one_newline(tmp_path):
    file = tmp_path / "secret"
    with pytest.raises(UserError, match="secret file"):
        read_secret_file(file)
    file.write_bytes(b"\n")
    file.chmod(0o600)
    with pytest.raises(UserError, match="empty"):
        read_secret_file(file)
    file.write_bytes(b"abc\n\n")
    assert read_secret_file(file) == b"abc\n"
    file.write_bytes(b"abc\r\n")
    assert read_secret_file(file) == b"abc"


def test_secret_file_readable_by_others_is_warned_about(tmp_path, caplog):
    file = tmp_path / "secret"
    file.write_bytes(b"abc")
    file.chmod(0o600)
    with caplog.at_level(logging.WARNING):
        read_secret_file(file)
    assert not caplog.records
    file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        read_secret_file(file)
    assert "readable by group or others" in caplog.text


# --- the list and the CLI ------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="el-monitor")
    parser.add_argument("--config")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.run(args)


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """A fresh working directory with the secret in the environment and no catalog."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    return tmp_path


def test_add_list_remove_store_only_hashes(cwd, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    listed = cwd / "el-monitor-optout.jsonl"
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
    assert run_cli("optout", "remove", "--hash", user_hash) == 0
    out = capsys.readouterr().out
    assert "removed" in out and "nothing removed" in out
    assert OptOutList.load(listed).hashes == frozenset()

    everything = listed.read_text() + out + capsys.readouterr().err + caplog.text
    assert USER not in everything and TOKEN not in everything


def test_ids_can_come_from_stdin_and_bad_ids_are_refused(cwd, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(USER + "\n"))
    assert run_cli("optout", "add", "--wiki", "enwiki", "--user-id", "-") == 0
    hashes = OptOutList.load(cwd / "el-monitor-optout.jsonl").hashes
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


# --- the matcher ---------------------------------------------------------------------------


def test_matcher_finds_users_in_nested_fields_by_int_or_digit_string():
    hashes = frozenset(
        {
            reference(SECRET, "enwiki", "user-id", "42"),
            reference(SECRET, "enwiki", "token", "t-1"),
            reference(SECRET, "enwiki", "user-id", "1"),
        }
    )
    cat = catalog(Edit=("performer.user_id", "userId", "session.token"))
    m = OptOutMatcher(SECRET, hashes, cat)
    assert m.active
    assert m.matches(capsule("Edit", {"performer": {"user_id": 42}}))
    assert m.matches(capsule("Edit", {"performer": {"user_id": "0042"}}))  # named like an id
    assert m.matches(capsule("Edit", {"userId": "42"}))
    assert m.matches(capsule("Edit", {"userId": 42.0}))
    assert m.matches(capsule("Edit", {"session": {"token": "t-1"}}))
    assert not m.matches(capsule("Edit", {"performer": {"user_id": 42}}, wiki="dewiki"))
    assert not m.matches(capsule("Edit", {"session": {"token": "42"}}))  # a token, not an id
    assert not m.matches(capsule("Edit", {"userId": True}))  # not user 1
    assert not m.matches(capsule("Edit", {"performer": "42", "session": None}))
    assert not m.matches(capsule("Edit", {"userId": [42], "session": {"token": {"x": 1}}}))
    assert not m.matches(capsule("Other", {"userId": 42}))  # no user_fields: never matches
    assert not m.matches({"schema": "Edit", "wiki": "enwiki", "event": "garbage"})


def test_matcher_takes_digit_strings_of_any_length():
    hashes = frozenset({reference(SECRET, "enwiki", "user-id", "42")})
    check = OptOutMatcher(SECRET, hashes, catalog(E=("user_id",))).check_for(("user_id",))
    assert check(capsule("E", {"user_id": "0" * 5000 + "42"}))
    assert not check(capsule("E", {"user_id": "1" * 5000}))  # int() would refuse it
    assert not check(capsule("E", {"user_id": "000"}))


def test_matcher_on_an_empty_list_is_constant_false():
    m = OptOutMatcher(SECRET, frozenset(), catalog(Edit=("user_id",)))
    assert not m.active
    assert not m.matches(capsule("Edit", {"user_id": 42}))


def test_matcher_answers_stay_right_over_many_values_and_rounds():
    hashes = frozenset({reference(SECRET, "enwiki", "token", "t-7")})
    check = OptOutMatcher(SECRET, hashes, catalog(T=("token",))).check_for(("token",))
    for round_ in range(3):
        for i in range(1000):
            assert check(capsule("T", {"token": f"t-{i}"})) == (i == 7), (round_, i)


# --- purge ---------------------------------------------------------------------------------

EDIT_SCHEMA = {
    "type": "object",
    "properties": {
        "user_id": {"type": "integer"},
        "performer": {"type": "object", "properties": {"user_id": {"type": "integer"}}},
        "token": {"type": "string"},
        "action": {"type": "string"},
        "minor": {"type": "boolean"},  # a user field by mistake: reads back as 0/1
    },
}
OTHER_SCHEMA = {"type": "object", "properties": {"user_id": {"type": "integer"}}}
ROWS = 300
# Opted out: user 4 on enwiki, user 102 (as performer) on dewiki, token tok-5 on enwiki, and
# user 1 on enwiki, who has no rows (but every row has minor = true, stored as 1).
OPTED_OUT = {
    ("enwiki", "user-id", "4"),
    ("dewiki", "user-id", "102"),
    ("enwiki", "token", "tok-5"),
    ("enwiki", "user-id", "1"),
}


def edit_event(i: int) -> tuple[str, dict]:
    wiki = "enwiki" if i % 2 == 0 else "dewiki"
    return wiki, {
        "user_id": i % 10,
        "performer": {"user_id": 100 + i % 7},
        "token": f"tok-{i % 11}",
        "action": "save",
        "minor": True,
    }


def opted_out(wiki: str, event: dict, fields: tuple[str, ...]) -> bool:
    """The reference answer, without any hashing."""
    values = {
        "user_id": ("user-id", str(event["user_id"])),
        "performer": ("user-id", str(event["performer"]["user_id"])),
        "token": ("token", event["token"]),
    }
    return any((wiki, *values[f]) in OPTED_OUT for f in fields)


EDIT1_FIELDS = ("user_id", "performer", "token")
EDIT2_FIELDS = ("user_id", "performer")  # revision 2 has no token column
EXPECTED = {
    "Edit_1": sum(opted_out(*edit_event(i), EDIT1_FIELDS) for i in range(ROWS)),
    "Edit_2": sum(opted_out(*edit_event(i), EDIT2_FIELDS) for i in range(ROWS)),
}


@pytest.fixture
def setup(db_url, tmp_path):
    """Tables Edit_1, Edit_2 (no token column), Other_1; Edit/3 has a schema but no table."""
    registry_dir = tmp_path / "schemas"
    for name, revision, schema in [
        ("Edit", "1", EDIT_SCHEMA),
        ("Edit", "2", EDIT_SCHEMA),
        ("Edit", "3", EDIT_SCHEMA),
        ("Other", "1", OTHER_SCHEMA),
    ]:
        (registry_dir / name).mkdir(parents=True, exist_ok=True)
        (registry_dir / name / f"{revision}.json").write_text(json.dumps(schema))
    store = open_store(db_url)
    edit2 = {**EDIT_SCHEMA, "properties": dict(EDIT_SCHEMA["properties"])}
    del edit2["properties"]["token"]
    batch = {}
    for revision, schema in (("1", EDIT_SCHEMA), ("2", edit2)):
        layout = store.layout("Edit", revision, schema)
        rows = []
        for i in range(ROWS):
            wiki, event = edit_event(i)
            if revision == "2":
                del event["token"]
            uuid = f"{revision}{i:031x}"
            capsule = {"uuid": uuid, "timestamp": 1795842000 + i, "wiki": wiki, "event": event}
            rows.append(layout.row(capsule))
        batch[layout] = rows
    other = store.layout("Other", "1", OTHER_SCHEMA)
    batch[other] = [
        other.row({"uuid": f"{i:032x}", "timestamp": 1795842000, "wiki": "enwiki",
                   "event": {"user_id": 4}})
        for i in range(20)
    ]  # fmt: skip
    store.insert(batch)
    optouts = tmp_path / "optout.jsonl"
    for wiki, kind, value in sorted(OPTED_OUT):
        add_optout(optouts, SECRET, wiki, kind, value)
    cat = catalog(Edit=("user_id", "performer.user_id", "token", "minor"))
    yield store, cat, DirectoryRegistry(registry_dir), OptOutList.load(optouts)
    store.close()


def count(store, table: str) -> int:
    quote = "`" if store.url.startswith("mysql") else '"'
    return store.query(f"SELECT COUNT(*) FROM {quote}{table}{quote}")[0][0]


def remaining_opted_out(store, table: str, fields: tuple[str, ...]) -> int:
    q = "`" if store.url.startswith("mysql") else '"'
    columns = {"user_id": "event_user_id", "performer": "event_performer_user_id"}
    columns["token"] = "event_token"
    rows = store.query(
        f"SELECT wiki, {', '.join(q + columns[f] + q for f in fields)} FROM {q}{table}{q}"
    )
    out = 0
    for wiki, *values in rows:
        event = dict(zip(fields, values, strict=True))
        event["performer"] = {"user_id": event.get("performer")}
        event.setdefault("token", None)
        out += opted_out(wiki, event, fields)
    return out


def test_purge_deletes_exactly_the_opted_out_rows(setup):
    store, cat, registry, optouts = setup
    assert EXPECTED["Edit_1"] > EXPECTED["Edit_2"] > 0
    dry = purge(store, cat, registry, optouts, SECRET, dry_run=True, batch_size=64)
    assert dry.dry_run and {t.table: t.deleted for t in dry.tables} == EXPECTED
    assert count(store, "Edit_1") == ROWS and count(store, "Edit_2") == ROWS
    assert not checkpoint_path(optouts.path).exists()

    summary = purge(store, cat, registry, optouts, SECRET, batch_size=64)
    assert {t.table: (t.scanned, t.deleted) for t in summary.tables} == {
        table: (ROWS, n) for table, n in EXPECTED.items()
    }
    assert summary.deleted == sum(EXPECTED.values()) and not summary.resumed
    assert count(store, "Edit_1") == ROWS - EXPECTED["Edit_1"]
    assert count(store, "Edit_2") == ROWS - EXPECTED["Edit_2"]
    assert remaining_opted_out(store, "Edit_1", EDIT1_FIELDS) == 0
    assert remaining_opted_out(store, "Edit_2", EDIT2_FIELDS) == 0
    assert count(store, "Other_1") == 20  # no user_fields in its policy
    assert not checkpoint_path(optouts.path).exists()
    again = purge(store, cat, registry, optouts, SECRET)
    assert again.deleted == 0


def test_purge_reaches_tables_of_revisions_the_registry_no_longer_lists(setup, tmp_path):
    store, cat, _, optouts = setup
    fewer = tmp_path / "fewer" / "Edit"  # Edit/2 is gone from the repository; its table is not
    fewer.mkdir(parents=True)
    (fewer / "1.json").write_text(json.dumps(EDIT_SCHEMA))
    summary = purge(store, cat, DirectoryRegistry(fewer.parent), optouts, SECRET)
    assert {t.table: t.deleted for t in summary.tables} == EXPECTED
    assert remaining_opted_out(store, "Edit_2", EDIT2_FIELDS) == 0
    assert count(store, "Other_1") == 20


class Interrupt(Exception):
    pass


class StopAfter:
    """A progress sink that fails after ``batches`` batches, like a killed run."""

    def __init__(self, batches: int) -> None:
        self.batches = batches
        self.total: int | None = None
        self.done = 0

    def set_total(self, total: int | None) -> None:
        self.total = total

    def advance(self, count: int = 1, note: str = "") -> None:
        self.done += count
        self.batches -= 1
        if self.batches == 0:
            raise Interrupt


def test_interrupted_purge_resumes_from_its_checkpoint(setup):
    store, cat, registry, optouts = setup
    stop = StopAfter(7)  # Edit_1 takes 5 batches of 64: stops inside Edit_2
    with pytest.raises(Interrupt):
        purge(store, cat, registry, optouts, SECRET, batch_size=64, progress=stop)
    assert stop.total == 2 * ROWS
    saved = json.loads(checkpoint_path(optouts.path).read_text())["tables"]
    assert saved["Edit_1"] > 0 and saved["Edit_2"] > 0
    assert count(store, "Edit_1") == ROWS - EXPECTED["Edit_1"]
    deleted_before = ROWS - count(store, "Edit_2")

    progress = StopAfter(-1)
    summary = purge(store, cat, registry, optouts, SECRET, batch_size=64, progress=progress)
    assert summary.resumed
    scanned = {t.table: t.scanned for t in summary.tables}
    assert scanned["Edit_1"] == 0 and scanned["Edit_2"] == ROWS - 2 * 64
    assert progress.total == progress.done == ROWS - 2 * 64
    assert {t.table: t.deleted for t in summary.tables}["Edit_2"] + deleted_before == (
        EXPECTED["Edit_2"]
    )
    assert remaining_opted_out(store, "Edit_2", EDIT2_FIELDS) == 0
    assert not checkpoint_path(optouts.path).exists()


def test_restart_and_a_changed_list_ignore_the_checkpoint(setup, caplog):
    store, cat, registry, optouts = setup

    def interrupted() -> None:
        with pytest.raises(Interrupt):
            purge(store, cat, registry, optouts, SECRET, batch_size=64, progress=StopAfter(2))
        assert checkpoint_path(optouts.path).exists()

    interrupted()
    rows = count(store, "Edit_1")
    summary = purge(store, cat, registry, optouts, SECRET, restart=True)
    assert not summary.resumed and summary.tables[0].scanned == rows

    interrupted()
    add_optout(optouts.path, SECRET, "enwiki", "user-id", "6")
    bigger = OptOutList.load(optouts.path)
    rows = count(store, "Edit_1")
    summary = purge(store, cat, registry, bigger, SECRET, batch_size=64)
    # Rows the interrupted run scanned were never checked for user 6: start over.
    assert not summary.resumed and "starting over" in caplog.text
    user6 = [i for i in range(ROWS) if i % 10 == 6]
    expected = [
        (rows, sum(not opted_out(*edit_event(i), EDIT1_FIELDS) for i in user6)),
        (
            ROWS - EXPECTED["Edit_2"],
            sum(not opted_out(*edit_event(i), EDIT2_FIELDS) for i in user6),
        ),
    ]
    assert [(t.scanned, t.deleted) for t in summary.tables] == expected


def test_purge_cli_reports_a_summary_and_logs_progress_without_a_terminal(
    setup, db_url, tmp_path, capsys, caplog, monkeypatch
):
    store, _, registry, optouts = setup
    (tmp_path / "el.toml").write_text(
        '[schema.Edit]\nuser_fields = ["user_id", "performer.user_id", "token"]\n'
    )
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    common = ["--db", db_url, "--schemas", str(registry.path), "--optout-file", str(optouts.path)]
    common += ["--config", str(tmp_path / "el.toml"), "--batch-size", "100"]
    caplog.set_level(logging.INFO)
    assert run_cli("optout", "purge", "--dry-run", *common) == 0
    out = capsys.readouterr().out
    assert "would delete" in out
    assert count(store, "Edit_1") == ROWS
    assert run_cli("optout", "purge", *common) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["table", "scanned", "deleted"]
    assert lines[1].split() == ["Edit_1", str(ROWS), str(EXPECTED["Edit_1"])]
    assert lines[3].split() == ["total", str(2 * ROWS), str(sum(EXPECTED.values()))]
    assert "optout purge: 600 rows to go" in caplog.text
    assert "optout purge: done, 600 rows" in caplog.text


# --- progress ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_plain_lines_at_most_every_interval(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO, logger="el_monitor.progress")
    stream = io.StringIO()
    with Progress("scan", total=100, interval=10, stream=stream, clock=clock) as progress:
        assert not progress.tty
        for _ in range(10):
            clock.now += 3
            progress.advance(10, "T_1")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "scan: started (100 rows to go)"
    assert messages[1:4] == [
        "scan: 40/100 rows (40%), 3.3 rows/s, ETA 18s [T_1]",
        "scan: 80/100 rows (80%), 3.3 rows/s, ETA 6s [T_1]",
        "scan: done, 100 rows in 30s",
    ]
    assert stream.getvalue() == ""


def test_progress_draws_one_line_on_a_terminal():
    clock = Clock()
    stream = io.StringIO()
    with Progress("scan", total=200, tty=True, stream=stream, clock=clock) as progress:
        for _ in range(4):
            clock.now += 1
            progress.advance(50)
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n") and text.count("\r") == 5
    assert "[############............]  50% 100/200 50 rows/s ETA 2s" in text
    assert "100% 200/200" in text.rsplit("\r", 1)[1]


def test_progress_reports_an_interrupted_run(caplog):
    caplog.set_level(logging.INFO, logger="el_monitor.progress")
    with pytest.raises(Interrupt), Progress("scan", stream=io.StringIO()) as progress:
        progress.advance(5)
        raise Interrupt
    assert "scan: stopped after 5 rows" in caplog.text
