"""A forwarder into MariaDB sends its busiest table's rows while the batch fills (a preload,
adopted by the flush's transaction; one LOAD left open where LOADs take no table lock, else a
LOAD every few hundred rows): the rows and counts are exactly those of a plain flush, and
connections killed mid-run, while a preload is open, lose nothing."""

from __future__ import annotations

import threading

import pytest
from helpers import SCHEMAS, ListSource, valid_lines

from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.measures import OVERALL
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store.mysql import MySQLStore

from .support import count_rows
from .test_forwarder_outages import KillingSource

pytestmark = pytest.mark.mysql


def forward_counting_preloads(source, mysql_url: str, **settings) -> tuple:
    store = MySQLStore(mysql_url)
    try:
        forwarder = Forwarder(
            ForwarderSettings(host="test", **settings), source, DirectoryRegistry(SCHEMAS), store
        )
        result = forwarder.run(threading.Event())
    finally:
        store.close()
    return result, store.preloads


def test_batches_go_by_preload_with_exact_rows_and_counts(preloading_mysql_url):
    mysql_url = preloading_mysql_url
    result, preloads = forward_counting_preloads(
        ListSource(valid_lines(3000), chunk=100), mysql_url, batch_size=300
    )
    assert preloads >= 5  # every batch after the first two, nearly
    assert result.pending == 0
    assert result.counts.get(OVERALL, "valid") == 3000
    assert result.counts.get(OVERALL, "inserted") == 3000
    assert count_rows(mysql_url) == 3000


def test_connections_killed_while_preloading_lose_nothing(preloading_mysql_url, tmp_path):
    mysql_url = preloading_mysql_url
    source = KillingSource(valid_lines(3000), mysql_url, kill_after=[7, 14, 23])
    spool = tmp_path / "spool"
    result, preloads = forward_counting_preloads(
        source, mysql_url, spool_dir=str(spool), batch_size=300
    )
    assert source.killed >= 3
    assert preloads >= 1
    assert result.pending == 0
    assert result.counts.get(OVERALL, "valid") == 3000
    assert count_rows(mysql_url) == 3000
    assert not list(spool.glob("*.jsonl"))
