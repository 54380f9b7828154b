"""Shared by the catalog tests: the example catalog, and writing a catalog file to load or
to see refused (its problems without the file name)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers import ROOT

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import CatalogError

EXAMPLE = ROOT / "examples" / "el-monitor.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "el-monitor.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def problems(tmp_path: Path, text: str, registry=None) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path, registry)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in caught.value.problems), caught.value.problems
    return [p[len(prefix) :] for p in caught.value.problems]
