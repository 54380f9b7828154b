"""The purge of opted-out users' rows: exactly those rows, in every revision's table, resumable
from its checkpoint unless restarted or the list changed, the CLI's summary, and the progress
it reports (el_monitor.progress: log lines, or one line on a terminal)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from el_monitor.optout.checkpoint import checkpoint_path
from el_monitor.optout.listfile import OptOutList, add_optout
from el_monitor.optout.purge import purge
from el_monitor.optout.secret import SECRET_ENV
from el_monitor.progress import Progress
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

from .support import SECRET, catalog, run_cli

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
