"""MySQL's bulk path (LOAD DATA LOCAL from memory) against its INSERT statements: any UTF-8
text round-trips exactly, and on the same batches both give the same rows, refused rows,
duplicates and bookkeeping; a server that refuses LOAD DATA LOCAL, and one that goes away in
the middle of a load, are handled as the INSERTs' are."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from forwarder.test_forwarder_outages import Outage

from el_monitor.store import InsertResult, StoreError, StoreUnavailable, TableLayout, open_store
from el_monitor.store.mysql import MySQLStore
from el_monitor.store.mysql_text import NULL, load_text

SCHEMA = {
    "type": "object",
    "properties": {
        "note": {"type": "string", "maxLength": 100_000},  # TEXT: 65,535 bytes at most
        "short": {"type": "string"},  # VARCHAR(191)
        "n": {"type": "integer"},
        "r": {"type": "number"},
        "ok": {"type": "boolean"},
        "tags": {"type": "array"},  # JSON text
        "nested": {
            "type": "object",
            "properties": {"x": {"type": "integer"}, "label": {"type": "string"}},
        },
    },
}
# Every character LOAD DATA reads specially, alone and in company, and the texts that look like
# its NULL or its escapes; the strings an SQL literal would trip on too.
NASTY = [
    "", " ", "\t", "\n", "\r", "\r\n", "\\", "\\\\", "\\N", "N", "NULL", "null", "\\n", "\\t",
    "\\0", "\\Z", "\\\t\\\n", "a\tb\nc\\d\re", "ends with \\", "\0", "a\0b", "\x1a", "\b", "\x7f",
    "'", '"', "`", "'); DROP TABLE x; --", "é", "😀", "中文 ✓", "\u2028\u2029", "\ufeff", "%s",
    " trailing  ", "\\N\t\\N",
]  # fmt: skip
FLOATS = [0.1, 1 / 3, 1e-300, 1.7976931348623157e308, 123456.789, -2.5, 1e16, 5e-324, 0.0]
INTS = [0, -1, 2**63 - 1, -(2**63), 2**53 + 1, 10**15]
NARROW_DDL = """CREATE TABLE Narrow_1 (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, uuid CHAR(32) NULL,
  timestamp VARCHAR(14) NULL, wiki VARCHAR(191) NULL, webHost VARCHAR(191) NULL,
  userAgent TEXT NULL, topic VARCHAR(191) NULL, event_short VARCHAR(5) NULL,
  event_n TINYINT NULL, event_r FLOAT NULL, UNIQUE KEY ix_Narrow_1_uuid (uuid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""
BOOKS_DDL = "CREATE TABLE books (id INT AUTO_INCREMENT PRIMARY KEY, what TEXT)"


def capsule(uuid: str, **event: Any) -> dict:
    return {"uuid": uuid, "timestamp": 1795842000, "wiki": "enwiki", "event": event}


@contextlib.contextmanager
def mysql_store(url: str, bulk: bool) -> Iterator[MySQLStore]:
    store = MySQLStore(url, bulk=bulk)
    try:
        yield store
    finally:
        store.close()


def status(store: MySQLStore, name: str) -> int:
    """A counter of the store's own session (``Com_load``: its LOAD DATA statements)."""
    ((_, value),) = store.query(f"SHOW SESSION STATUS LIKE '{name}'")
    return int(value)


def contents(store: MySQLStore, table: str) -> list[tuple]:
    """Every row of ``table`` but its ``id``, in insertion order."""
    names = [n for n, _ in store.columns(table) if n != "id"]
    return store.query(f"SELECT {store.dialect.names(names)} FROM {table} ORDER BY id")


def as_stored(layout: TableLayout, rows: list) -> list[list]:
    """Rows as they read back: the store's ``empty`` is NULL."""
    return [[None if value is layout.empty else value for value in row] for row in rows]


def outcome(result: InsertResult, database: str = "") -> tuple:
    """What an insert did, by table name; the database's name left out of the messages (MariaDB
    names it in some), so that two databases compare."""
    return (
        sorted((layout.name, count) for layout, count in result.inserted.items()),
        [
            (r.layout.name, r.index, r.message.replace(database or "\0", "DB"))
            for r in result.rejected
        ],
        [(d.layout.name, d.index, d.differs) for d in result.duplicates],
    )


def test_load_text_is_the_rows_json_with_null_and_booleans_as_load_data_reads_them() -> None:
    rows = [["plain", NULL, 7, True, 0.5], ["a, b", NULL, -1, False, 1e20]]
    text = b'"plain",NULL,7,1,0.5],["a, b",NULL,-1,0,1e+20],['
    assert load_text(rows, booleans=(3,)) == text
    assert [row[3] for row in rows] == [1, 0] and {type(row[3]) for row in rows} == {int}


@pytest.mark.parametrize(
    ("row", "text"),
    [
        (["says null", None], '"says null",NULL'),  # the word in a string: not replaced
        (["true", True], '"true",1'),
        ([1, True], "1,1"),  # a 1 beside a boolean
        (["form\ffeed", "\x01"], '"form\x0cfeed","\x01"'),  # JSON's \f and \u0001
        (["[x]", "{y}"], '"[x]","{y}"'),
        (['q"b\\t\tn\n', "\\N"], '"q\\"b\\\\t\\tn\\n","\\\\N"'),
        (["é😀", 2**70], '"é😀",1180591620717411303424'),  # beyond JSON's 64 bits
        ([float("nan"), "\0"], 'nan,"\\0"'),
    ],
)
def test_load_text_writes_value_by_value_what_json_would_say_otherwise(row, text) -> None:
    assert load_text([row], booleans=(1,)) == (text + "],[").encode()


def test_load_text_refuses_a_value_no_column_holds() -> None:
    with pytest.raises(StoreError, match="cannot store a dict value"):
        load_text([["x", {"a": 1}]])


def test_any_text_round_trips_through_load_data(mysql_url: str) -> None:
    with mysql_store(mysql_url, bulk=True) as store:
        layout = store.layout("Nasty", "1", SCHEMA)
        capsules = [
            capsule(f"{i:032x}", note=text, short=text, tags=[text], nested={"label": text})
            for i, text in enumerate(NASTY)
        ]
        capsules += [
            capsule(f"{100 + i:032x}", r=r, n=n, ok=i % 2 == 0)
            for i, (r, n) in enumerate(zip(FLOATS, INTS * 2, strict=False))
        ]
        rows = [layout.row(c) for c in capsules]
        loads, inserts = status(store, "Com_load"), status(store, "Com_insert")
        result = store.insert({layout: rows})
        assert outcome(result) == ([(layout.name, len(rows))], [], [])
        assert status(store, "Com_load") == loads + 1  # one LOAD, no fallback to INSERTs
        assert status(store, "Com_insert") == inserts
        stored = contents(store, layout.name)
    assert [list(row) for row in stored] == as_stored(layout, rows)


def _corpus() -> list[list[tuple[str, dict]]]:
    """Batches of (schema, capsule): clean rows with missing fields, replays (identical,
    different, twice in a batch), rows each engine refuses, and a table narrower than its
    schema, some batches over two tables."""
    rng = random.Random(13)
    fields = {
        "note": lambda: rng.choice(NASTY) * rng.randrange(1, 4),
        "short": lambda: rng.choice(NASTY),
        "n": lambda: rng.choice(INTS),
        "r": lambda: rng.choice(FLOATS),
        "ok": lambda: rng.random() < 0.5,
        "tags": lambda: [rng.choice(NASTY), rng.randrange(9)],
        "nested": lambda: {"x": rng.randrange(99), "label": rng.choice(NASTY)},
    }

    def event() -> dict:  # each field missing now and then: a NULL column
        return {name: make() for name, make in fields.items() if rng.random() < 0.7}

    first = [capsule(f"{i:032x}", **event()) for i in range(60)]
    replays = [first[3], first[7], {**first[9], "event": {**first[9]["event"], "n": 5}}]
    twice = capsule("a" * 32, n=1)
    refused = [
        capsule("b" * 32, n=2**70),  # beyond BIGINT
        capsule("c" * 32, note="x" * 70_000),  # beyond TEXT
        capsule("d" * 32, note="é" * 40_000),  # 80,000 bytes: beyond TEXT too
    ]
    narrow = [
        capsule("e" * 32, short="abc", n=5, r=0.1),
        capsule("f" * 32, short="abcdefg"),  # beyond VARCHAR(5)
        capsule("1" * 32, n=300),  # beyond TINYINT
        capsule("2" * 32, r=1 / 3),
    ]
    return [
        [("Wide", c) for c in first[:30]],
        [("Wide", c) for c in [*replays, *first[30:], twice, {**twice, "event": {"n": 2}}]],
        [("Wide", c) for c in [first[0], *refused, capsule("3" * 32, n=3), first[1]]],
        [("Narrow", c) for c in narrow] + [("Wide", capsule("4" * 32, r=-2.5)), ("Wide", twice)],
        [("Narrow", c) for c in [narrow[0], capsule("5" * 32, n=-128, short="")]]
        + [("Wide", capsule("6" * 32 + " ", n=6)), ("Wide", capsule("7" * 33, n=7))],
        [("Wide", capsule(f"{i:032x}", **event())) for i in range(1000, 1400)],
    ]


def _run(
    url: str, bulk: bool, preload: bool = False
) -> tuple[list[tuple], dict[str, list[tuple]], int]:
    """The corpus inserted batch by batch, each with bookkeeping that records its result:
    the outcomes, the tables' contents (books included), and the LOAD statements run.
    ``preload``: each batch's Wide rows go by ``store.preload`` as they are made."""
    database = urlsplit(url).path.lstrip("/")
    with mysql_store(url, bulk) as store:
        store.execute(NARROW_DDL)
        store.execute(BOOKS_DDL)
        layouts: dict[str, TableLayout] = {}
        outcomes = []
        loads = status(store, "Com_load")
        for batch in _corpus():
            rows: dict[TableLayout, list] = {}
            ahead = store.preload(layouts["Wide"], 1.0) if preload and "Wide" in layouts else None
            for schema, c in batch:
                layout = layouts.get(schema) or store.layout(schema, "1", SCHEMA)
                layouts[schema] = layout
                if ahead is not None and layout is layouts["Wide"]:
                    rows.setdefault(layout, ahead.rows)  # the preload's own list, in its place
                    ahead.add(layout.row(c))
                else:
                    rows.setdefault(layout, []).append(layout.row(c))

            def books(result: InsertResult) -> list:
                done = repr(outcome(result, database))
                return [("INSERT INTO books (what) VALUES (%s)", [(done,)])]

            outcomes.append(outcome(store.insert(rows, books), database))
        loads = status(store, "Com_load") - loads
        tables = {name: contents(store, name) for name in ("Wide_1", "Narrow_1", "books")}
        # Committed as preloaded: the last batch; the others' replays and refusals are redone.
        assert store.preloads == (1 if preload else 0)
    return outcomes, tables, loads


def test_the_bulk_path_gives_exactly_what_the_inserts_give(
    make_mysql_database, interleaved_mysql_url: str
) -> None:
    with make_mysql_database() as bulk_url, make_mysql_database() as insert_url:
        bulk, inserts = _run(bulk_url, bulk=True), _run(insert_url, bulk=False)
    with make_mysql_database() as statements_url:  # (the shared server: a LOAD per statement)
        by_statements = _run(statements_url, bulk=True, preload=True)
    preloaded = _run(interleaved_mysql_url, bulk=True, preload=True)
    assert bulk[0] == inserts[0] == preloaded[0] == by_statements[0]
    assert bulk[1] == inserts[1] == preloaded[1] == by_statements[1]
    assert inserts[2] == 0 and bulk[2] >= len(_corpus())  # the bulk path did load
    # The corpus does hold what it is meant to: refused rows, and duplicates that differ.
    outcomes = bulk[0]
    refused = [[(name, index) for name, index, _ in o[1]] for o in outcomes]
    assert refused[2:4] == [[("Wide_1", 1), ("Wide_1", 2), ("Wide_1", 3)],
                            [("Narrow_1", 1), ("Narrow_1", 2)]]  # fmt: skip
    assert outcomes[1][2] == [
        ("Wide_1", 0, ()),
        ("Wide_1", 1, ()),
        ("Wide_1", 2, ("event_n",)),
        ("Wide_1", 34, ("event_n",)),
    ]
    assert refused[4] == [("Wide_1", 1)]  # a uuid too long; one with a trailing space is stored
    assert len(bulk[1]["Wide_1"]) == 60 + 1 + 1 + 1 + 1 + 400


class _CutMidLoad(Outage):
    """The proxy, cutting every connection once ``after`` bytes went to the server since
    ``arm``: in the middle of a large LOAD."""

    def __init__(self, mysql_url: str, after: int) -> None:
        super().__init__(mysql_url)
        self.after, self.sent, self.armed = after, 0, False

    def arm(self) -> None:
        self.sent, self.armed = 0, True

    def _pipe(self, src, dst) -> None:
        try:
            toward_server = dst.getpeername()[1] == self.target[1]
            while data := src.recv(65536):
                if self.armed and toward_server:
                    self.sent += len(data)
                    if self.sent > self.after:
                        self.armed = False
                        self.cut()
                        return
                dst.sendall(data)
        except OSError:
            pass


def test_a_server_gone_in_the_middle_of_a_load_is_unavailable_and_leaves_nothing(
    mysql_url: str,
) -> None:
    proxy = _CutMidLoad(mysql_url, after=1 << 20)
    try:
        with mysql_store(proxy.url, bulk=True) as store:
            store.execute(BOOKS_DDL)
            layout = store.layout("Wide", "1", SCHEMA)
            rows = [layout.row(capsule(f"{i:032x}", note="é" * 1000)) for i in range(3000)]

            def books(result: InsertResult) -> list:
                return [("INSERT INTO books (what) VALUES (%s)", [(repr(outcome(result)),)])]

            proxy.arm()
            with pytest.raises(StoreUnavailable):
                store.insert({layout: rows}, books)
            assert proxy.sent > 1 << 20  # cut while the rows were on their way
            proxy.restore()
            with mysql_store(mysql_url, bulk=False) as direct:
                assert direct.query("SELECT COUNT(*) FROM Wide_1") == [(0,)]
                assert direct.query("SELECT COUNT(*) FROM books") == [(0,)]
            result = store.insert({layout: rows}, books)  # a new connection, the same batch
            assert outcome(result) == ([("Wide_1", 3000)], [], [])
            assert store.query("SELECT COUNT(*) FROM Wide_1") == [(3000,)]
            assert store.query("SELECT COUNT(*) FROM books") == [(1,)]
    finally:
        proxy.close()


def test_a_server_refusing_load_data_local_gets_inserts(mariadb_servers, caplog) -> None:
    server = mariadb_servers(1, "--local-infile=0")
    caplog.set_level(logging.WARNING, "el_monitor.store.mysql_load")
    with mysql_store(server.url, bulk=True) as store:
        layout = store.layout("Wide", "1", SCHEMA)
        rows = [layout.row(capsule(f"{i:032x}", short=NASTY[i])) for i in range(len(NASTY))]
        assert outcome(store.insert({layout: rows})) == ([("Wide_1", len(rows))], [], [])
        assert not store.bulk and "refuses LOAD DATA LOCAL" in caplog.text
        assert [list(row) for row in contents(store, "Wide_1")] == as_stored(layout, rows)
        loads = status(store, "Com_load")
        more = [layout.row(capsule("f" * 32, n=1))]
        assert outcome(store.insert({layout: more})) == ([("Wide_1", 1)], [], [])
        assert status(store, "Com_load") == loads  # not tried again


def test_a_value_no_column_holds_fails_as_with_the_inserts_even_mid_load(
    make_mysql_database,
) -> None:
    """Rows are encoded while the server loads the ones before: a value that has no text (not
    a JSON scalar) far into a batch ends the load there; it is undone, and the INSERTs refuse
    the batch as they always did, leaving the connection fit for the next batch."""
    with make_mysql_database() as bulk_url, make_mysql_database() as insert_url:
        for url, bulk in ((bulk_url, True), (insert_url, False)):
            with mysql_store(url, bulk) as store:
                layout = store.layout("Wide", "1", SCHEMA)
                rows = [layout.row(capsule(f"{i:032x}", n=i)) for i in range(1200)]
                rows[900][layout.column_names.index("event_n")] = {"not": "a scalar"}
                with pytest.raises(StoreError, match="cannot store a dict value"):
                    store.insert({layout: rows})
                assert store.query("SELECT COUNT(*) FROM Wide_1") == [(0,)]
                assert outcome(store.insert({layout: rows[:900]})) == ([("Wide_1", 900)], [], [])
                assert store.bulk is bulk


def test_the_bulk_path_is_the_default_and_bulk_0_turns_it_off(mysql_url: str) -> None:
    """LOAD DATA by default; ``?bulk=0`` for INSERTs alone (their ids follow on from batch to
    batch; a LOAD's leave gaps)."""
    for url, bulk in ((mysql_url + "?bulk=0", False), (mysql_url, True)):
        with contextlib.closing(open_store(url)) as store:
            assert isinstance(store, MySQLStore) and store.bulk is bulk
            layout = store.layout("Wide", "1", SCHEMA)
            start = 100 if bulk else 0
            rows = [layout.row(capsule(f"{start + i:032x}", n=i)) for i in range(20)]
            assert outcome(store.insert({layout: rows})) == ([("Wide_1", 20)], [], [])
            assert status(store, "Com_load") == int(bulk)


def test_a_statement_wanted_during_a_preload_undoes_it_and_the_batch_goes_once(
    preloading_mysql_url: str,
) -> None:
    with mysql_store(preloading_mysql_url, bulk=True) as store:
        layout = store.layout("Wide", "1", SCHEMA)
        store.insert({layout: [layout.row(capsule("0" * 32, n=0))]})  # its LOAD prepared
        ahead = store.preload(layout, 1.0)
        assert ahead is not None
        for i in range(1, 1001):
            ahead.add(layout.row(capsule(f"{i:032x}", n=i, short=NASTY[i % len(NASTY)])))
        assert store.query("SELECT COUNT(*) FROM Wide_1") == [(1,)]  # what was loaded: undone
        assert outcome(store.insert({layout: ahead.rows})) == ([("Wide_1", 1000)], [], [])
        assert store.preloads == 0
        assert [list(row) for row in contents(store, "Wide_1")[1:]] == as_stored(layout, ahead.rows)


def test_a_server_gone_during_a_preload_is_unavailable_and_leaves_nothing(
    preloading_mysql_url: str,
) -> None:
    mysql_url = preloading_mysql_url
    proxy = _CutMidLoad(mysql_url, after=1 << 20)
    try:
        with mysql_store(proxy.url, bulk=True) as store:
            layout = store.layout("Wide", "1", SCHEMA)
            store.insert({layout: [layout.row(capsule("0" * 32))]})
            ahead = store.preload(layout, 1.0)
            assert ahead is not None
            proxy.arm()
            for i in range(1, 3001):  # never raises: the preload only gives up
                ahead.add(layout.row(capsule(f"{i:032x}", note="é" * 1000)))
            assert proxy.sent > 1 << 20
            with pytest.raises(StoreUnavailable):
                store.insert({layout: ahead.rows})
            proxy.restore()
            with mysql_store(mysql_url, bulk=False) as direct:
                assert direct.query("SELECT COUNT(*) FROM Wide_1") == [(1,)]
            assert outcome(store.insert({layout: ahead.rows})) == ([("Wide_1", 3000)], [], [])
            assert store.query("SELECT COUNT(*) FROM Wide_1") == [(3001,)]
    finally:
        proxy.close()


def test_where_a_load_locks_its_table_a_preload_holds_up_no_other_writer(
    mysql_url: str,
) -> None:
    """``innodb_autoinc_lock_mode`` 1 (MariaDB's default): a LOAD holds the table's AUTO-INC
    lock until it ends, so a preload loads a few hundred rows a statement, and another
    session inserts into the table between them, its lock wait never reached."""
    with mysql_store(mysql_url, bulk=True) as store:
        (mode,) = store.query("SELECT @@innodb_autoinc_lock_mode")[0]
        layout = store.layout("Wide", "1", SCHEMA)
        store.insert({layout: [layout.row(capsule("0" * 32, n=0))]})
        ahead = store.preload(layout, 1.0)
        assert ahead is not None and (ahead.statement is None) is (mode == 2)
        for i in range(1, 1001):
            ahead.add(layout.row(capsule(f"{i:032x}", n=i)))
        with mysql_store(mysql_url, bulk=False) as other:  # raises when it waits 5 s
            other.execute("SET SESSION innodb_lock_wait_timeout = 5")
            other.execute("INSERT INTO Wide_1 (uuid) VALUES (%s)", ("f" * 32,))
        assert outcome(store.insert({layout: ahead.rows})) == ([("Wide_1", 1000)], [], [])
        assert store.preloads == 1
        assert store.query("SELECT COUNT(*) FROM Wide_1") == [(1002,)]


def test_a_batch_that_may_outwait_the_server_preloads_statement_by_statement(
    interleaved_mysql_url: str,
) -> None:
    """The server ends a LOAD whose next rows do not come within ``net_read_timeout``: a
    batch that may stay open half as long loads a few hundred rows a statement."""
    with mysql_store(interleaved_mysql_url, bulk=True) as store:
        ((timeout,),) = store.query("SELECT @@net_read_timeout")
        layout = store.layout("Wide", "1", SCHEMA)
        store.insert({layout: [layout.row(capsule("0" * 32, n=0))]})
        patient = store.preload(layout, timeout / 2 + 1)
        assert patient is not None and patient.statement is not None
        brief = store.preload(layout, timeout / 2 - 1)
        assert brief is not None and brief.statement is None
