"""Fixtures of the ``el-monitor notify`` tests: the SMTP inbox, the stub render API (reset to
answering before every test) and a catalog pointing at both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.smtp import FreePortController, Inbox

from .support import RenderStub, write_catalog


@pytest.fixture
def inbox(smtp: FreePortController) -> Inbox:
    """What the test's SMTP server (the shared ``smtp`` fixture) received; it knows the
    catalog's SMTP user."""
    smtp.handler.accounts["alerts"] = "s3cret-pass"
    return smtp.handler


@pytest.fixture(scope="module")
def render() -> Iterator[RenderStub]:
    """The stub render API, one per test module."""
    stub = RenderStub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture(autouse=True)
def _render_ok(render: RenderStub) -> None:
    """Every test starts with a render API that answers and has seen no query."""
    render.status = 200
    render.queries.clear()


@pytest.fixture
def catalog_path(tmp_path, smtp, render) -> Path:
    return write_catalog(tmp_path, smtp.port, render.url)
