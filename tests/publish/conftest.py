"""Fixtures of the publish tests: a subject of their own on the shared NATS server (its stream
deleted afterwards, whatever happens); private servers to stop and restart are the harness's
``private_nats``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness.nats import (
    SHARED_URL,
    delete_stream,
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
