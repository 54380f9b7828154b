"""``el-monitor errors``: the error groups a real forwarder run wrote (SQLite and MariaDB),
filtered by schema and time, newest first, and the invalid log followed as it grows; no user
id, token, IP or user agent ever shows."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from forwarder.support import forward
from helpers import ListSource, ProcessOutput

from el_monitor.cli import main as cli

USER_ID = "987654321"
TOKEN = "3f2a9c81d4e5b6a7c8d9e0f1a2b3"
IP = "198.51.100.77"
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SECRETS = (USER_ID, TOKEN, IP, "Firefox/120.0")
OLD = 1795842000  # 2026-11-28T05:00:00Z
NEW = OLD + 2 * 86400 + 5 * 3600  # 2026-11-30T10:00:00Z
VARNISH = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"

NAV = {"schema": "NavigationTiming", "revision": "1.7.0", "wiki": "enwiki"}
CPU = {"schema": "CpuBenchmark", "revision": "1.2.0", "wiki": "enwiki"}


def nav_bad(i: int, at: int) -> bytes:
    """Invalid at $.isAnon, with a user id, a token and an IP in fields the schema lacks."""
    event = {"isAnon": "yes", "user_id": int(USER_ID), "token": TOKEN, "clientIp": IP}
    return json.dumps(dict(NAV, uuid=f"{i:032x}", timestamp=at + i, event=event)).encode()


def cpu_bad(i: int, at: int) -> bytes:
    """Invalid at $.score; its pageviewToken is a declared field holding a token."""
    event = {"score": "fast", "pageviewToken": TOKEN}
    return json.dumps(dict(CPU, uuid=f"{i:032x}", timestamp=at + i, event=event)).encode()


def varnish_bad(seq: int, at: int) -> bytes:
    """A client line whose %h is an IP and whose user agent is a browser's."""
    capsule = dict(NAV, timestamp=at, event={"isAnon": "no", "token": TOKEN})
    query = "?" + quote_plus(json.dumps(capsule)) + ";"
    return f"{query} cp3062 {seq} 2026-11-30T10:00:00 {IP} {AGENT}".encode()


def fill(db_url: str, log_dir: Path | None = None) -> None:
    """A real forwarder run: 3 NavigationTiming errors on the 28th, 2 CpuBenchmark ones and
    1 NavigationTiming client line on the 30th, between valid events."""
    good = [json.dumps(dict(NAV, uuid=f"{900 + i:032x}", timestamp=NEW, event={"isAnon": True}))
            .encode() for i in range(3)]  # fmt: skip
    lines = [nav_bad(i, OLD) for i in range(3)] + good + [cpu_bad(10 + i, NEW) for i in range(2)]
    settings = {"log_dir": str(log_dir)} if log_dir else {}
    result = forward(ListSource(lines), db_url, **settings)
    assert result.counts.get("overall", "invalid") == 5
    forward(ListSource([varnish_bad(1, NEW)]), db_url, format=VARNISH, **settings)


def errors(capsys, *argv: str) -> tuple[int, str]:
    status = cli.main(["errors", *argv])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def test_groups_newest_first_filtered_by_schema_and_time(capsys, db_url):
    fill(db_url)
    status, out = errors(capsys, "--db", db_url, "--since", "2026-11-01", "--json")
    assert status == 0, out
    groups = [json.loads(line) for line in out.splitlines()]
    keys = [(g["schema"], g["code"], g["path"], g["events"]) for g in groups]
    # Both last seen on the 30th; more events first.  The client line joins the 28th's group.
    assert keys == [
        ("NavigationTiming", "validation", "$.isAnon", 4),
        ("CpuBenchmark", "validation", "$.score", 2),
    ]
    nav, cpu = groups
    assert (nav["first_seen"], nav["last_seen"]) == ("2026-11-28T05:00:00Z", "2026-11-30T10:00:00Z")
    assert nav["revision"] == "1.7.0" and cpu["revision"] == "1.2.0"
    assert cpu["first_seen"] == cpu["last_seen"] == "2026-11-30T10:00:00Z"
    no_secrets(out)

    status, out = errors(capsys, "--db", db_url, "--since", "2026-11-01", "--json",
                         "--schema", "NavigationTiming")  # fmt: skip
    assert {json.loads(line)["schema"] for line in out.splitlines()} == {"NavigationTiming"}
    assert sum(json.loads(line)["events"] for line in out.splitlines()) == 4

    status, out = errors(capsys, "--db", db_url, "--since", "2026-11-29", "--json")
    recent = [
        (g["schema"], g["events"], g["first_seen"]) for g in map(json.loads, out.splitlines())
    ]
    assert recent == [
        ("CpuBenchmark", 2, "2026-11-30T10:00:00Z"),
        ("NavigationTiming", 1, "2026-11-30T10:00:00Z"),
    ]

    status, out = errors(capsys, "--db", db_url, "--since", "2026-11-01", "--limit", "1")
    assert status == 0
    assert out.splitlines()[0] == (
        "NavigationTiming 1.7.0  validation  $.isAnon  4 events  "
        "2026-11-28T05:00:00Z .. 2026-11-30T10:00:00Z"
    )
    assert len([line for line in out.splitlines() if not line.startswith("  ")]) == 1
    assert "  example: " in out and "[redacted]" in out
    no_secrets(out)

    status, out = errors(capsys, "--db", db_url, "--since", "2026-12-01", "--schema", "Nope")
    assert status == 0 and out.startswith("no errors recorded for Nope since 2026-12-01")


def test_usage_and_missing_database(capsys, tmp_path):
    status, out = errors(capsys, "--since", "1d")
    assert status == 2 and "--db URL" in out
    status, out = errors(capsys, "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert status == 2 and len(out.splitlines()) == 1
    assert not (tmp_path / "none.db").exists()
    status, out = errors(capsys, "--log-dir", str(tmp_path), "--follow")  # no --schema
    assert status == 2
    with pytest.raises(SystemExit) as exited:  # argparse's own usage error
        cli.main(["errors", "--db", "sqlite:///x.db", "--since", "yesterday"])
    assert exited.value.code == 2
    assert "not an age like 24h" in capsys.readouterr().err


def test_follow_prints_new_invalid_records_of_one_schema_redacted(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "el_monitor.cli", "errors", "--log-dir", str(logs), "--follow",
         "--schema", "NavigationTiming", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    output = ProcessOutput(proc)
    try:
        output.wait_for("following the invalid log")
        fill(f"sqlite:///{tmp_path / 'el.db'}", logs)
        output.wait_for('"schema": "NavigationTiming"', count=4, stream="stdout")
    finally:
        proc.send_signal(signal.SIGTERM)
    out, _ = output.finish()
    assert proc.returncode == 0
    records = [json.loads(line) for line in out.decode().splitlines()]
    assert len(records) == 4 and {r["schema"] for r in records} == {"NavigationTiming"}
    assert {r["code"] for r in records} == {"validation"}
    assert all(r["example"] and "[redacted]" in r["example"] for r in records)
    no_secrets(out.decode())
