"""Fixtures of the forwarder tests: ``members``, forwarder processes of a JetStream consumer
group (``jetstream_support.Member``), each killed when the test ends if still running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .jetstream_support import Member


@pytest.fixture
def members() -> Iterator[list[Member]]:
    started: list[Member] = []
    yield started
    for member in started:
        member.kill()
