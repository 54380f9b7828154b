"""Retention yields to live traffic: after a batch during which other sessions inserted rows,
it pauses ``yield_factor`` times the batch's time; with nobody else writing it does not
pause at all.  Inserts are made by a second connection between batches (from the progress
sink, which the engine calls after every batch), so the test is deterministic; the server is
a private one, so nobody else's inserts are counted."""

from __future__ import annotations

import pytest

from el_monitor.retention.engine import plan_run, run_retention
from el_monitor.store import open_store

from .support import NOW, catalog, seed


class InsertingProgress:
    """A progress sink that, after each batch, inserts a row through another connection
    (a forwarder's, as far as the server can tell) when asked to."""

    def __init__(self, url: str, inserting: bool) -> None:
        self.other = open_store(url)
        self.inserting = inserting
        self.batches = 0
        q = self.other.dialect.quote
        self.other.execute(f"CREATE TABLE {q('live_traffic')} ({q('n')} INTEGER)")

    def set_total(self, total: int) -> None:
        pass

    def advance(self, rows: int, label: str = "") -> None:
        self.batches += 1
        if self.inserting:
            q = self.other.dialect.quote
            self.other.execute(f"INSERT INTO {q('live_traffic')} ({q('n')}) VALUES (1), (2), (3)")


@pytest.mark.parametrize("inserting", [True, False], ids=["live-traffic", "alone"])
def test_retention_pauses_only_while_others_insert(mariadb_servers, tmp_path, inserting):
    mysql_url = mariadb_servers(1).url
    store = open_store(mysql_url)
    seed(store, NOW)
    progress = InsertingProgress(mysql_url, inserting)
    pauses: list[float] = []
    try:
        plan = plan_run(store, catalog(tmp_path), NOW, [], execute=True)
        run_retention(plan, batch_size=20, yield_factor=2.0, progress=progress,
                      sleep=pauses.append)  # fmt: skip
    finally:
        progress.other.close()
        store.close()
    assert progress.batches > 5
    if inserting:
        # Every full batch after the first one seen is followed by a pause (the last batch
        # of each step is short and ends the step without one).
        assert len(pauses) >= progress.batches // 2
        assert all(p > 0 for p in pauses)
    else:
        assert pauses == []


def test_sqlite_never_yields(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        seed(store, NOW)
        pauses: list[float] = []
        plan = plan_run(store, catalog(tmp_path), NOW, [], execute=True)
        result = run_retention(plan, batch_size=20, sleep=pauses.append)
        assert result.due > 0 and pauses == []
    finally:
        store.close()
