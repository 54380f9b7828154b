"""Sources that cannot be opened: bad URIs, a directory for a file, a port in use; each is
one line naming the URI."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from el_monitor.errors import UserError
from el_monitor.ingest.sources import open_source


@pytest.mark.parametrize(
    "uri, message",
    [
        ("kafka://broker:9092", "unknown input"),
        ("file://relative/path", "absolute path"),
        ("file:///x?follow=maybe", "follow=1"),
        ("file:///x?tail=1", "follow=1"),
        ("file:///nonexistent/el-monitor.log", "cannot read"),
        ("udp://127.0.0.1", "HOST:PORT"),
        ("udp://127.0.0.1:99999", "bad port"),
        ("http://127.0.0.1:0/path", "HOST:PORT"),
        ("stdin://x", "stdin://"),
        ("tcp://127.0.0.1", "tcp://HOST:PORT"),
        ("tcp://127.0.0.1:0", "tcp://HOST:PORT"),
        ("tcp://127.0.0.1:5556/path", "tcp://HOST:PORT"),
        ("tcp://127.0.0.1:5556?topic=x", "subscribe=PREFIX"),
        ("tcp://no-such-host.invalid:5556", "cannot resolve"),
    ],
)
def test_bad_uris_are_user_errors(uri: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        open_source(uri)
    assert uri.split("?")[0] in str(info.value) and "\n" not in str(info.value)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a regular file"):
        open_source(f"file://{tmp_path}")


@pytest.mark.parametrize("scheme, kind", [("udp", socket.SOCK_DGRAM), ("http", socket.SOCK_STREAM)])
def test_port_in_use_is_a_user_error(scheme: str, kind: int) -> None:
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match="in use"):
            open_source(f"{scheme}://127.0.0.1:{port}")


def test_a_missing_optional_dependency_is_one_line_naming_its_extra():
    from el_monitor.errors import missing_extra

    error = missing_extra(ModuleNotFoundError("No module named 'nats'", name="nats"), "x: nats://")
    assert str(error) == "x: nats:// needs nats-py: pip install 'el-monitor[nats]'"
    other = ModuleNotFoundError("No module named 'typo'", name="typo")
    with pytest.raises(ModuleNotFoundError):  # not an extra: a bug, raised as it is
        missing_extra(other, "x")
