"""Fixtures of the publish tests: a subject of their own on the shared NATS server (its stream
deleted afterwards, whatever happens) and private servers to stop and restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.nats import (
    SHARED_URL,
    NatsServer,
    delete_stream,
    server_path,
    shared_reason,
    unique_subject,
)

from el_monitor.ingest.sources.jetstream_address import stream_for_subject


@pytest.fixture
def subject() -> Iterator[str]:
    """A fresh subject on the shared server; its stream is deleted after the test."""
    reason = shared_reason()
    if reason:
        pytest.skip(reason)
    name = unique_subject()
    try:
        yield name
    finally:
        delete_stream(SHARED_URL, stream_for_subject(name))


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A private ``nats-server -js`` (own port and store directory, removed afterwards)."""
    if server_path() is None:
        pytest.skip("nats-server not found (Debian's nats-server package provides it)")
    with NatsServer(tmp_path / "nats") as server:
        yield server
