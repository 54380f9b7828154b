"""``retention run`` computes the catalog's rollups before rows lose detail: a dry run names
them and writes nothing; --execute fills the rollup table with every seeded row of the periods
up to the cutoff's; the next run resumes where it left off (no period twice)."""

from __future__ import annotations

import datetime

from el_monitor.cli.main import main
from el_monitor.store.rollups import rollup_table

from .support import CATALOG, catalog_file, registry_dir, seed

EDIT_HASH = 'hash = ["editing_session_id", "session_token"]\n'
ROLLUP = CATALOG.replace(
    EDIT_HASH,
    EDIT_HASH + '[[schema.EditAttemptStep.aggregate]]\nname = "by_wiki"\ndimensions = ["wiki"]\n',
)
assert ROLLUP != CATALOG


def _retention(db_url, tmp_path, *argv: str) -> int:
    config = ["--config", str(catalog_file(tmp_path, ROLLUP))]
    run = ["run", "--schemas", str(registry_dir(tmp_path))]
    return main(["retention", *run, *argv, "--db", db_url, *config])


def test_rollups_computed_before_rows_go_and_resumed(store, db_url, tmp_path, capsys):
    now = datetime.datetime.now(datetime.UTC)
    seeded = seed(store, now)
    table = rollup_table("EditAttemptStep", "by_wiki")
    # Every period up to the cutoff's (90 days) is computed whole: its last day included.
    last_day = (now - datetime.timedelta(days=90)).strftime("%Y%m%d")
    expected = sum(
        1 for row in seeded["EditAttemptStep_2_1_0"].values() if row["timestamp"][:8] <= last_day
    )

    assert _retention(db_url, tmp_path) == 1
    out = capsys.readouterr().out
    assert "rollups would be computed: EditAttemptStep (by_wiki) from the oldest row to" in out
    assert not store.table_exists(table)

    assert _retention(db_url, tmp_path, "--execute") == 0
    assert f"rollups computed: {table} (" in capsys.readouterr().out
    q = store.dialect.quote
    ((events, groups),) = store.query(f"SELECT SUM({q('events')}), COUNT(*) FROM {q(table)}")
    assert int(events) == expected and int(groups) > 0

    assert _retention(db_url, tmp_path, "--execute") == 0
    assert f"rollups computed: {table} (0 periods, 0 rows)" in capsys.readouterr().out
    assert store.query(f"SELECT SUM({q('events')}) FROM {q(table)}")[0][0] == events
