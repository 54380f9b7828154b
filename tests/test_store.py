"""The table mapping and both writers: DDL, round trips, idempotence, refused rows."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from el_monitor.event.formats import make_parser
from el_monitor.store import StoreError, open_store
from el_monitor.store.dialect import MYSQL, SQLITE, event_table
from el_monitor.store.mapping import event_columns, table_name

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def shared_examples() -> list[tuple[str, str, dict, dict]]:
    """(schema, revision, event schema, capsule) for every bundled example."""
    parse = make_parser("json", "test")
    out = []
    for sample in sorted((EXAMPLES / "samples").glob("*.jsonl")):
        for line in sample.read_text().splitlines():
            obj = json.loads(line)
            obj.setdefault("wiki", "enwiki")
            capsule = parse(json.dumps(obj).encode(), None)
            path = EXAMPLES / "schemas" / capsule["schema"] / f"{capsule['revision']}.json"
            out.append(
                (capsule["schema"], capsule["revision"], json.loads(path.read_text()), capsule)
            )
    return out


# Published examples that carry a field their schema does not declare (MediaWikiPingback's
# event.wiki; UniversalLanguageSelector's event.token, which its schema requires but never
# defines).  EventLogging's top-level additionalProperties: false makes them invalid, so the
# forwarder never stores them, and their tables have no column for the field.
UNDECLARED = {"MediaWikiPingback": "event_wiki", "UniversalLanguageSelector": "event_token"}


NESTED = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["a", "b"]},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "ok": {"type": "boolean"},
        "note": {"type": "string", "maxLength": 1000},
        "short": {"type": "string", "maxLength": 20},
        "tags": {"type": "array", "items": {"type": "string"}},
        "free": {"type": "object", "additionalProperties": {"type": "string"}},
        "nested": {
            "type": "object",
            "properties": {
                "pi": {"type": "number"},
                "label": {"type": "string"},
                "deep": {"type": "object", "properties": {"x": {"type": "integer"}}},
            },
        },
    },
}


def test_table_names_replace_odd_revision_characters():
    assert table_name("NavigationTiming", "1.7.0") == "NavigationTiming_1_7_0"
    assert table_name("Edit", "15") == "Edit_15"
    with pytest.raises(StoreError):
        table_name("X" * 63, "1.2.3")


def test_event_columns_flatten_nested_objects_and_type_the_rest():
    columns = dict(event_columns(NESTED))
    assert columns == {
        "event_action": "varchar",
        "event_count": "bigint",
        "event_free": "json",
        "event_nested_deep_x": "bigint",
        "event_nested_label": "varchar",
        "event_nested_pi": "double",
        "event_note": "text",
        "event_ok": "boolean",
        "event_ratio": "double",
        "event_short": "varchar",
        "event_tags": "json",
    }


def test_ddl_is_the_same_layout_on_both_engines():
    columns = event_columns(NESTED)
    from el_monitor.store.mapping import CAPSULE_COLUMNS

    mysql = MYSQL.create_table(event_table("T_1", [*CAPSULE_COLUMNS, *columns]))[0]
    lite = SQLITE.create_table(event_table("T_1", [*CAPSULE_COLUMNS, *columns]))[0]
    for ddl in (mysql, lite):
        assert "CHAR(32) NULL" in ddl and "VARCHAR(14) NULL" in ddl
        assert "BIGINT NULL" in ddl and "DOUBLE NULL" in ddl and "BOOLEAN NULL" in ddl
        assert "VARCHAR(191) NULL" in ddl and "TEXT NULL" in ddl
    assert "AUTO_INCREMENT" in mysql and "utf8mb4" in mysql and "InnoDB" in mysql
    assert "`event_nested_deep_x` BIGINT NULL" in mysql
    assert '"event_nested_deep_x" BIGINT NULL' in lite


def columns_of(store, table: str) -> dict[str, str]:
    if store.url.startswith("sqlite"):
        return {r[1]: r[2].upper() for r in store.query(f'PRAGMA table_info("{table}")')}
    rows = store.query(
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table,),
    )
    return {name: kind.upper() for name, kind, _ in rows}


def test_created_tables_have_the_mapped_columns(store):
    layout = store.layout("Nested", "1.0.0", NESTED)
    cols = columns_of(store, layout.name)
    assert {"id", "uuid", "timestamp", "wiki", "webHost", "userAgent", "topic"} <= set(cols)
    assert cols["uuid"].startswith("CHAR(32)") and cols["timestamp"].startswith("VARCHAR(14)")
    assert cols["event_nested_pi"] == "DOUBLE"
    assert cols["event_count"].startswith("BIGINT")
    assert cols["event_short"].startswith("VARCHAR(191)")
    assert "recvFrom" not in cols and "seqId" not in cols and "schema" not in cols


def test_every_shared_example_round_trips(store):
    examples = shared_examples()
    assert len({e[0] for e in examples}) == 55
    for schema, revision, event_schema, capsule in examples:
        if schema in UNDECLARED:
            with pytest.raises(StoreError, match=UNDECLARED[schema]):
                store.layout(schema, revision, event_schema).row(capsule)
    examples = [e for e in examples if e[0] not in UNDECLARED]
    batch: dict = {}
    for schema, revision, event_schema, capsule in examples:
        layout = store.layout(schema, revision, event_schema)
        batch.setdefault(layout, []).append(layout.row(capsule))
    result = store.insert(batch)
    assert not result.rejected and sum(result.inserted.values()) == len(examples)
    quote, mark = store.dialect.quote, store.dialect.mark
    for schema, revision, _, capsule in examples:
        layout = store.layout(schema, revision, {})
        names = ", ".join(map(quote, layout.column_names))
        (row,) = store.query(
            f"SELECT {names} FROM {quote(layout.name)} WHERE uuid = {mark}", (capsule["uuid"],)
        )
        stored = dict(zip(layout.column_names, row, strict=True))
        assert stored["uuid"] == capsule["uuid"]
        assert stored["wiki"] == capsule["wiki"]
        for key, value in capsule["event"].items():
            column = f"event_{key}"
            if isinstance(value, dict) and column not in stored:  # flattened
                for sub, subvalue in value.items():
                    assert stored[f"{column}_{sub}"] == subvalue
            elif isinstance(value, dict | list):  # free-form: JSON text
                assert json.loads(stored[column]) == value
            elif isinstance(value, bool):
                assert stored[column] == int(value)
            else:
                assert stored[column] == value, (schema, column)


def test_replay_is_idempotent(store):
    schema, revision, event_schema, capsule = shared_examples()[0]
    layout = store.layout(schema, revision, event_schema)
    assert store.insert({layout: [layout.row(capsule)]}).inserted[layout] == 1
    assert store.insert({layout: [layout.row(capsule)]}).inserted[layout] == 0
    assert store.query(f"SELECT COUNT(*) FROM {layout.name}") == [(1,)]


def test_a_table_name_of_64_characters_gets_its_indexes_and_its_rows(store):
    """Index names are built from the table's: past MySQL's 64 characters they are cut and
    end in a hash, so a long schema name is stored, and a replay still adds nothing."""
    schema = "LongSchemaName" + "x" * 41  # + "_12345678": 64 characters, the most a table has
    layout = store.layout(schema, "12345678", NESTED)
    assert len(layout.name) == 64
    capsule = {"uuid": "b" * 32, "timestamp": 1795842000, "wiki": "w", "event": {"count": 1}}
    assert store.insert({layout: [layout.row(capsule)]}).inserted[layout] == 1
    assert store.insert({layout: [layout.row(capsule)]}).inserted[layout] == 0
    assert store.query(f"SELECT COUNT(*) FROM {layout.name}") == [(1,)]
    unique, timestamp = event_table(layout.name, []).unique, event_table(layout.name, []).indexes
    names = [unique.name, *(index.name for index in timestamp)]
    assert all(len(name) <= 64 for name in names) and len(set(names)) == 2


def test_a_refused_row_costs_only_itself(store):
    layout = store.layout("Nested", "1.0.0", NESTED)
    rows = []
    for i, count in enumerate([1, 2**70, 3]):  # 2**70 does not fit BIGINT
        capsule = {
            "uuid": f"{i:032x}",
            "timestamp": 1795842000,
            "wiki": "w",
            "event": {"count": count},
        }
        rows.append(layout.row(capsule))
    result = store.insert({layout: rows})
    assert [r.index for r in result.rejected] == [1]
    assert result.inserted[layout] == 2
    assert "refused" in result.rejected[0].message


def test_field_the_table_lacks_is_a_store_error(store):
    layout = store.layout("Nested", "1.0.0", NESTED)
    with pytest.raises(StoreError, match="has no column event_surprise"):
        layout.row(
            {"uuid": "a" * 32, "timestamp": 1795842000, "wiki": "w", "event": {"surprise": 1}}
        )


@pytest.mark.parametrize(
    ("where", "column"),
    [("wiki", "wiki"), ("short", "event_short"), ("label", "event_nested_label")],
)
def test_a_string_longer_than_its_varchar_column_is_refused_on_both_engines(
    store, where, column
) -> None:
    """Capsule, top-level and nested VARCHAR columns alike: 191 characters fit, 192 do not."""
    layout = store.layout("Nested", "1.0.0", NESTED)

    def capsule(length: int, uuid: str) -> dict:
        text = "é" * length  # characters, not bytes, as utf8mb4 counts them
        fields = {"wiki": "w", "event": {}}
        if where == "wiki":
            fields["wiki"] = text
        elif where == "short":
            fields["event"] = {"short": text}
        else:
            fields["event"] = {"nested": {"label": text}}
        return {"uuid": uuid, "timestamp": 1795842000, **fields}

    with pytest.raises(StoreError, match=f"{column} is too long: 192 characters"):
        layout.row(capsule(192, "b" * 32))
    result = store.insert({layout: [layout.row(capsule(191, "a" * 32))]})
    assert result.inserted[layout] == 1 and not result.rejected


def test_rows_of_a_group_refuse_only_the_rows_the_table_cannot_hold(store) -> None:
    layout = store.layout("Nested", "1.0.0", NESTED)
    capsules = [
        {"uuid": f"{n:032x}", "timestamp": 1795842000, "wiki": "w", "event": {"short": text}}
        for n, text in enumerate(["a", "x" * 192, "b", "y" * 500])
    ]
    built = layout.rows(capsules)
    assert [c["uuid"] for c in built.kept] == [capsules[0]["uuid"], capsules[2]["uuid"]]
    assert [row[layout.column_names.index("event_short")] for row in built.rows] == ["a", "b"]
    assert [c["uuid"] for c, _ in built.refused] == [capsules[1]["uuid"], capsules[3]["uuid"]]
    assert all("event_short is too long" in why for _, why in built.refused)


def test_existing_table_with_fewer_columns(store):
    layout = store.layout("Nested", "1.0.0", {"properties": {"count": {"type": "integer"}}})
    # A second process whose schema grew: the table keeps its columns, new fields are errors.
    again = open_store(store.url)
    grown = again.layout("Nested", "1.0.0", NESTED)
    again.close()
    assert "event_note" not in grown.column_names
    assert "event_count" in grown.column_names
    with pytest.raises(StoreError):
        grown.row({"uuid": "a" * 32, "timestamp": 1795842000, "wiki": "w", "event": {"note": "x"}})
    assert layout.name == grown.name


def test_sql_and_html_in_values_are_stored_verbatim(store):
    layout = store.layout("Nested", "1.0.0", NESTED)
    evil = "'); DROP TABLE Nested_1_0_0; -- <script>alert(1)</script> \\ \x00 😀"
    capsule = {"uuid": "b" * 32, "timestamp": 1795842000, "wiki": "w'\"`", "event": {"note": evil}}
    store.insert({layout: [layout.row(capsule)]})
    assert store.query(f"SELECT event_note, wiki FROM {layout.name}") == [(evil, "w'\"`")]


def test_unreachable_mysql_is_unavailable_not_a_crash():
    from el_monitor.store import StoreUnavailable

    with pytest.raises(StoreUnavailable, match="cannot connect"):
        open_store("mysql://root@127.0.0.1:1/nothing")


def test_sqlite_in_missing_directory_is_a_user_error(tmp_path):
    from el_monitor.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path}/missing/x.db")


def _open_when_released(url: str, barrier) -> None:
    """A forked process's body: open ``url`` with the others, exit 0 if it could."""
    code = 1
    try:
        barrier.wait(60)
        open_store(url).close()
        code = 0
    finally:
        os._exit(code)


def test_processes_opening_one_new_sqlite_file_at_once_all_open_it(tmp_path):
    """Workers re-pointed to one new file all open it at the same moment: SQLite fails one of
    two switching it to WAL together at once, without its busy wait (4 processes at once
    failed 8 rounds in 50 before opening waited for that)."""
    forked = multiprocessing.get_context("fork")
    for round_ in range(60):
        url = f"sqlite:///{tmp_path}/{round_}.db"
        barrier = forked.Barrier(4)
        args = (url, barrier)
        openers = [forked.Process(target=_open_when_released, args=args) for _ in range(4)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(120)
        assert [o.exitcode for o in openers] == [0] * 4, f"round {round_}"


def test_a_table_name_reads_back_as_its_schema() -> None:
    from el_monitor.store.mapping import schema_of_table

    names = ["Edit", "EditAttemptStep", "Nav"]
    assert schema_of_table(table_name("EditAttemptStep", "2.1.0"), names) == "EditAttemptStep"
    assert schema_of_table(table_name("Edit", "17325565"), names) == "Edit"
    assert schema_of_table("Edit_notes", names) is None  # not a revision
    assert schema_of_table("Navigation_1", names) is None
