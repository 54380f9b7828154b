"""``el-monitor report daily`` as a command: text without --send, errors in one line, and mail
to ops and owners through a real SMTP server (every image referenced and attached, nothing
private or executable in any part), to the configured recipients only, or to no server.
"""

from __future__ import annotations

import datetime
import re
from email.message import EmailMessage

from el_monitor.store import open_store
from el_monitor.store.counts import COUNTS_TABLE

from .support import CATALOG, DAY, SECRETS, run_cli, schemas_dir


def test_cli_prints_text_without_send(sqlite_url, catalog_file, monkeypatch, capsys) -> None:
    code = run_cli(
        monkeypatch,
        "report", "daily", "--date", str(DAY), "--db", sqlite_url, "--config", str(catalog_file),
        "--schemas", str(schemas_dir(catalog_file)),
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"EventLogging daily report, {DAY} (UTC)" in out.out


def test_cli_errors_are_one_line(tmp_path, catalog_file, monkeypatch, capsys) -> None:
    missing = f"sqlite:///{tmp_path / 'nope.db'}"
    assert run_cli(monkeypatch, "report", "daily", "--db", missing) == 2
    assert "does not exist; check --db" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    open_store(f"sqlite:///{empty}").close()
    assert run_cli(monkeypatch, "report", "daily", "--db", f"sqlite:///{empty}") == 2
    assert f"no {COUNTS_TABLE} table" in capsys.readouterr().err
    future = str(datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=2))
    assert run_cli(monkeypatch, "report", "daily", "--date", future, "--db", missing) == 2
    assert "in the future" in capsys.readouterr().err


def _parts(message: EmailMessage) -> tuple[str, str, dict[str, bytes]]:
    """The text part, the HTML part and the inline images by Content-ID."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    images = {
        part["Content-ID"].strip().strip("<>"): part.get_content()
        for part in message.walk()
        if part.get_content_type() == "image/png"
    }
    return text, html, images


def test_send_to_ops_and_owners(sqlite_url, catalog_file, smtp, monkeypatch, capsys) -> None:
    port = smtp.port
    code = run_cli(
        monkeypatch,
        "report", "daily", "--date", str(DAY), "--db", sqlite_url, "--config", str(catalog_file),
        "--schemas", str(schemas_dir(catalog_file)),
        "--send", "--owners", "--smtp", f"127.0.0.1:{port}", "--mail-from", "el@example.org",
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    by_rcpt = {tuple(rcpts): message for rcpts, message in smtp.handler.messages()}
    assert set(by_rcpt) == {
        ("ops@example.org",),
        ("nav@example.org",),
        ("edit@example.org",),
        ("team@example.org",),
        ("quiet@example.org",),
    }
    for rcpts, message in by_rcpt.items():
        assert message["From"] == "el@example.org"
        assert message["To"] == rcpts[0]
        assert str(DAY) in message["Subject"]
        text, html, images = _parts(message)
        cids = set(re.findall(r'src="cid:([^"]+)"', html))
        assert cids and cids == set(images), rcpts  # every image referenced, every ref there
        for png in images.values():
            assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
        assert f"EventLogging daily report, {DAY} (UTC)" in text
        whole = message.as_string()
        for secret in SECRETS:
            assert secret not in text and secret not in html and secret not in whole, secret
        assert "<script" not in html.lower()

    _, ops_html, _ = _parts(by_rcpt[("ops@example.org",)])
    assert (
        "Evil&lt;script&gt;x&lt;/script&gt;" in ops_html and "Schemas without an owner" in ops_html
    )
    for name in ("NavigationTiming", "EditAttemptStep", "Orphan", "Shared"):
        assert re.search(rf'<tr><td>(<a href="#schema-{name}">)?{name}(</a>)?</td>', ops_html)

    def schemas_in(rcpt: str) -> set[str]:
        _, html, _ = _parts(by_rcpt[(rcpt,)])
        return set(re.findall(r'<tr><td>(?:<a href="#[^"]+">)?([A-Za-z-]+)(?:</a>)?</td>', html))

    assert schemas_in("nav@example.org") == {"NavigationTiming"}
    assert schemas_in("edit@example.org") == {"EditAttemptStep"}
    assert schemas_in("team@example.org") == {"EditAttemptStep", "Shared"}
    assert "EditAttemptStep, Shared" in by_rcpt[("team@example.org",)]["Subject"]
    quiet_text, _, _ = _parts(by_rcpt[("quiet@example.org",)])
    assert "CONFIGURED SCHEMAS THAT LOGGED NOTHING" in quiet_text and "  Quiet" in quiet_text
    assert f"report {DAY} for Quiet: 0 valid" in by_rcpt[("quiet@example.org",)]["Subject"]
    team_text, _, _ = _parts(by_rcpt[("team@example.org",)])
    assert "Orphan" not in team_text and "NavigationTiming" not in team_text


def test_send_only_to_ops_without_owners(sqlite_url, tmp_path, smtp, monkeypatch) -> None:
    port = smtp.port
    config = tmp_path / "reports.toml"
    config.write_text(
        CATALOG.replace(
            'ops = ["ops@example.org"]',
            f'ops = ["ops@example.org"]\n[smtp]\nhost = "127.0.0.1"\nport = {port}\n'
            'mail_from = "reports@example.org"\n'
            '[alerts]\nreport_recipients = ["a@example.org", "b@example.org"]',
        )
    )
    code = run_cli(
        monkeypatch, "--config", str(config), "report", "daily", "--date", str(DAY),
        "--db", sqlite_url, "--send",
    )  # fmt: skip
    assert code == 0
    received = smtp.handler.messages()
    assert [rcpts for rcpts, _ in received] == [["a@example.org", "b@example.org"]]
    assert received[0][1]["From"] == "reports@example.org"


def test_unreachable_smtp_is_one_line(sqlite_url, catalog_file, monkeypatch, capsys) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = run_cli(
        monkeypatch, "report", "daily", "--date", str(DAY), "--db", sqlite_url,
        "--config", str(catalog_file),
        "--schemas", str(schemas_dir(catalog_file)), "--send", "--smtp", f"127.0.0.1:{port}",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"127.0.0.1:{port}" in err and "Traceback" not in err
