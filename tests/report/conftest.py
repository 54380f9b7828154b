"""Fixtures of the daily report tests: the catalog file, and a SQLite store filled with the
synthetic thirty days (support.fill)."""

from __future__ import annotations

from pathlib import Path

import pytest

from el_monitor.store import open_store

from .support import CATALOG, fill


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    path = tmp_path / "el-monitor.toml"
    path.write_text(CATALOG)
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'el.db'}"
    store = open_store(url)
    try:
        fill(store)
    finally:
        store.close()
    return url
