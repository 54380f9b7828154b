"""Fixtures of the backup tests: a primary and its caught-up replica on private servers."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from harness.mariadb import MariaDBServer

from el_monitor.store import Store, open_store


class Pair(NamedTuple):
    primary: MariaDBServer
    replica: MariaDBServer
    primary_store: Store
    replica_store: Store


@pytest.fixture
def pair(mariadb_servers):
    """A primary (server id 1) and its replica (2) replicating by GTID, a store on each."""
    primary = mariadb_servers(1)
    replica = mariadb_servers(2)
    replica.replicate_from(primary)
    stores = [open_store(primary.url), open_store(replica.url)]
    try:
        yield Pair(primary, replica, *stores)
    finally:
        for store in stores:
            store.close()
