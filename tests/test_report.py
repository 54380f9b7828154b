"""``el-monitor report daily``: numbers, renderings, mail to a real SMTP server, and a browser.

Thirty days of synthetic hourly counts for a handful of schemas are written into the counts
tables (SQLite, and MariaDB through the ``mysql_url`` fixture).  Expected numbers are computed
here from the same generator, independently of the report's SQL.  One schema has no owner;
EditAttemptStep's errors carry a planted ``<script>`` and a user id, token, IP and user agent,
which must reach no output unescaped or at all.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import re
import struct
import subprocess
import tempfile
import zlib
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest

from el_monitor.catalog.load import load_catalog
from el_monitor.cli import main as cli
from el_monitor.cli import report as cli_report
from el_monitor.report.charts import make_charts
from el_monitor.report.collect import collect
from el_monitor.report.model import ReportData, Tally, owner_slice
from el_monitor.report.render import render_html, render_text, standalone_html
from el_monitor.store import Store, open_store
from el_monitor.store.counts import (
    COUNTS_TABLE,
    ERRORS_TABLE,
    MEASURES,
    counts_tables_sql,
    create_counts_tables,
    period_of,
)
from el_monitor.store.dialect import MYSQL, SQLITE

DAY = datetime.date(2024, 5, 30)
DOWN = DAY - datetime.timedelta(days=3)  # no forwarder ran: no rows at all that day
FIRST = DAY - datetime.timedelta(days=29)

# What must never appear in any output.
USER_ID = "987654321"
TOKEN = "Zq8Xw2Lk9Vb4Nm7Pc1Rt6Ys3"
IP = "203.0.113.77"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
SECRETS = (USER_ID, TOKEN, IP, "Firefox/126.0", "Gecko/20100101")
SCRIPT = "<script>alert('owned')</script>"
EVIL_SCHEMA = "Evil<script>x</script>"

CATALOG = """
ops = ["ops@example.org"]

[schema.NavigationTiming]
owners = ["nav@example.org"]

[schema.EditAttemptStep]
owners = ["edit@example.org", "team@example.org"]
user_fields = ["user_id"]

[schema.Shared]
owners = ["team@example.org"]

[schema.Quiet]
owners = ["quiet@example.org"]
"""
SCHEMAS = ("NavigationTiming", "EditAttemptStep", "Orphan", "Shared", "-")


def daily(schema: str, day: datetime.date) -> Tally:
    """The synthetic day total of a schema; zeros on DOWN and outside the window."""
    if day == DOWN or not FIRST <= day <= DAY:
        return Tally()
    i = (day - FIRST).days
    if schema == "NavigationTiming":
        return Tally(5000 + 37 * i + (i % 5) * 11, i % 4, 120 + i, 3)
    if schema == "EditAttemptStep":
        invalid = 40 if day == DAY else 10 + i % 6
        return Tally(900 + (i * 13) % 70, invalid, 0, i % 2)
    if schema == "Orphan":  # silent the day before: its change is "new"
        return Tally(0 if i == 28 else 30 + i, 2 if day == DAY else 0, 0, 0)
    if schema == "Shared":
        return Tally(7, 0, 1, 0)
    if schema == "-":  # lines no schema could be named for: always invalid
        return Tally(0, 4, 0, 0)
    raise KeyError(schema)


def expected(schema: str) -> dict:
    """The report's numbers for ``schema`` on DAY, computed the obvious way."""
    days = [DAY - datetime.timedelta(days=n) for n in range(8)]
    today, before = daily(schema, days[0]), daily(schema, days[1])
    week = [daily(schema, d) for d in days[1:] if d != DOWN]  # DOWN has no data at all
    return {
        "valid": today.valid,
        "invalid": today.invalid,
        "sampled_out": today.sampled_out,
        "opted_out": today.opted_out,
        "share": today.invalid / (today.valid + today.invalid),
        "valid_change": (today.valid - before.valid) * 100 / before.valid if before.valid else None,
        "invalid_change": (today.invalid - before.invalid) * 100 / before.invalid
        if before.invalid
        else None,
        "valid_avg7": sum(t.valid for t in week) / len(week),
        "invalid_avg7": sum(t.invalid for t in week) / len(week),
    }


def _raw_client_line(event: dict) -> str:
    """An EventLogging client line: %q %{recvFrom}s %{seqId}d %t %h %{userAgent}i."""
    capsule = {"schema": "EditAttemptStep", "revision": 1, "wiki": "enwiki", "event": event}
    q = "?" + quote(json.dumps(capsule), safe="") + ";"
    return f"{q} cp3001 12345 2024-05-30T03:00:00 {IP} {USER_AGENT}"


def _errors() -> list[tuple]:
    """(period, instance, schema, code, path, count, message, example) rows, with plants."""
    at = f"{DAY}T03:00:00Z"
    later = f"{DAY}T07:00:00Z"
    capsule = {
        "schema": "EditAttemptStep",
        "revision": 1,
        "wiki": "enwiki",
        "userAgent": USER_AGENT,
        "event": {"action": SCRIPT, "user_id": int(USER_ID), "token": TOKEN, "ip": IP},
    }
    rows = [
        # The first of the day for its group: its message and example are the ones shown.
        (at, "fw1", "EditAttemptStep", "validation", "event.action", 20,
         f"{SCRIPT!r} is not one of ['init', 'ready']", json.dumps(capsule)),
        (later, "fw2", "EditAttemptStep", "validation", "event.action", 10,
         "a later message, not shown", '{"later": true}'),
        # The message quotes the user id: a bare number only the redaction can tell apart.
        (at, "fw1", "EditAttemptStep", "validation", "event.user_id", 5,
         f"{USER_ID} is not of type 'string'",
         _raw_client_line({"action": "init", "user_id": int(USER_ID)})),
        (at, "fw1", "Orphan", "validation", "", 2, "'wiki' is a required property", "{}"),
        (at, "fw1", "-", "parse", "", 4, "Expecting value: line 1 column 1 (char 0)",
         f"garbage from {IP} {TOKEN}"),
    ]  # fmt: skip
    # Four smaller groups: six kinds of error in all, the top five shown.
    for n, path in enumerate(("event.a", "event.b", "event.c", "event.d")):
        rows.append(
            (at, "fw2", "EditAttemptStep", "validation", path, 1 + n, f"{path} is wrong", "{}")
        )
    return rows


def fill(store: Store) -> None:
    """Thirty days (and one day either side) of hourly rows from two forwarders, and errors."""
    create_counts_tables(store)
    rows = []
    day = FIRST - datetime.timedelta(days=1)
    while day <= DAY + datetime.timedelta(days=1):
        outside = not FIRST <= day <= DAY
        for schema in SCHEMAS:
            tally = Tally(50, 50, 50, 50) if outside else daily(schema, day)
            if tally == Tally() and day == DOWN:
                continue
            # Split over three hours and two instances; the parts sum to the day's tally.
            third = Tally(*(v // 3 for v in tally))
            last = Tally(*(v - 2 * t for v, t in zip(tally, third, strict=True)))
            for hour, instance, part in ((0, "fw1", third), (11, "fw2", third), (23, "fw1", last)):
                when = datetime.datetime(day.year, day.month, day.day, hour, 17, 5)
                counts = {"raw": part.valid + part.invalid, **part._asdict(), "inserted": 0}
                rows.append(
                    (period_of(when), instance, schema, *(counts.get(m, 0) for m in MEASURES))
                )
        day += datetime.timedelta(days=1)
    rows.append((f"{DAY}T05:00:00Z", "fw1", EVIL_SCHEMA, 1, 1, 0, 0, 0, 1, 0))  # fmt: skip
    _insert(store, COUNTS_TABLE, ("period", "instance", "schema_name", *MEASURES), rows)
    columns = ("period", "instance", "schema_name", "code", "path", "count", "message", "example")
    _insert(store, ERRORS_TABLE, columns, _errors())


def _insert(store: Store, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    marks = "(" + ", ".join([store.dialect.mark] * len(columns)) + ")"
    names = ", ".join(map(store.dialect.quote, columns))
    for start in range(0, len(rows), 300):
        part = rows[start : start + 300]
        store.execute(
            f"INSERT INTO {store.dialect.quote(table)} ({names}) VALUES "
            + ", ".join([marks] * len(part)),
            [value for row in part for value in row],
        )


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


def report_from(url: str, catalog_file: Path) -> ReportData:
    store = open_store(url)
    try:
        return collect(store, load_catalog(catalog_file), DAY)
    finally:
        store.close()


def check_numbers(report: ReportData) -> None:
    by_name = {s.name: s for s in report.schemas}
    assert set(by_name) == {*SCHEMAS, EVIL_SCHEMA}
    for name in SCHEMAS:
        want, f = expected(name), by_name[name].figures
        assert (f.valid, f.invalid, f.sampled_out, f.opted_out) == (
            want["valid"],
            want["invalid"],
            want["sampled_out"],
            want["opted_out"],
        ), name
        assert f.invalid_share == pytest.approx(want["share"]), name
        for key in ("valid_change", "invalid_change", "valid_avg7", "invalid_avg7"):
            got = getattr(f, key)
            assert got == (None if want[key] is None else pytest.approx(want[key])), (name, key)
    # The day before is in the window; the average covers 6 recorded days (DOWN had none).
    assert report.recorded[-1] and report.recorded[-2] and not report.recorded[-4]
    assert by_name["Orphan"].figures.valid_change is None  # nothing the day before: "new"
    totals = report.totals
    assert totals.valid == sum(daily(s, DAY).valid for s in SCHEMAS) + 1
    assert totals.invalid == sum(daily(s, DAY).invalid for s in SCHEMAS)  # Evil: 1 valid
    first = [daily(s, FIRST) for s in SCHEMAS]
    assert report.trend[0] == Tally(*(sum(v) for v in zip(*first, strict=True)))
    assert len(report.trend) == 30
    # Most invalid first; lines without a schema last.
    assert [s.name for s in report.schemas] == [
        "EditAttemptStep",  # 40 invalid
        "Orphan",  # 2
        "NavigationTiming",  # 1
        "Shared",  # none, 7 valid
        EVIL_SCHEMA,  # none, 1 valid
        "-",
    ]
    edit = by_name["EditAttemptStep"]
    assert edit.error_groups == 6 and len(edit.errors) == 5
    top = edit.errors[0]
    assert (top.path, top.count) == ("event.action", 30)
    assert "later message" not in " ".join(e.message for e in edit.errors)
    assert report.unowned == ("Evil<script>x</script>", "Orphan")
    assert [s.name for s in report.silent] == ["Quiet"]


def test_numbers_on_sqlite(sqlite_url: str, catalog_file: Path) -> None:
    check_numbers(report_from(sqlite_url, catalog_file))


def test_numbers_on_mariadb(mysql_url: str, catalog_file: Path) -> None:
    store = open_store(mysql_url)
    try:
        fill(store)
        create_counts_tables(store)  # idempotent
    finally:
        store.close()
    check_numbers(report_from(mysql_url, catalog_file))


def test_ddl_is_one_layout_for_both_engines() -> None:
    lite = "\n".join(counts_tables_sql(SQLITE))
    my = "\n".join(counts_tables_sql(MYSQL))
    assert '"id" INTEGER PRIMARY KEY' in lite and "AUTO_INCREMENT" not in lite
    assert "`id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY" in my
    assert "utf8mb4" in my and "utf8mb4" not in lite
    assert 'UNIQUE ("period", "instance", "schema_name", "code", "path")' in lite
    assert period_of(datetime.datetime(2024, 5, 30, 7, 59, tzinfo=datetime.UTC)) == (
        "2024-05-30T07:00:00Z"
    )


def test_owner_slice_holds_only_their_schemas(sqlite_url: str, catalog_file: Path) -> None:
    report = report_from(sqlite_url, catalog_file)
    team = owner_slice(report, "team@example.org")
    assert [s.name for s in team.schemas] == ["EditAttemptStep", "Shared"]
    assert team.totals.valid == daily("EditAttemptStep", DAY).valid + daily("Shared", DAY).valid
    assert team.unowned == () and team.silent == ()
    assert [s.name for s in owner_slice(report, "quiet@example.org").silent] == ["Quiet"]


def test_text_rendering(sqlite_url: str, catalog_file: Path) -> None:
    report = report_from(sqlite_url, catalog_file)
    text = render_text(report, make_charts(report))
    assert f"EventLogging daily report, {DAY} (UTC)" in text
    nav = expected("NavigationTiming")
    line = next(line for line in text.splitlines() if line.startswith("NavigationTiming "))
    assert f"{nav['valid']:,}" in line and f"{nav['valid_change']:+.1f}%" in line
    assert f"{nav['valid_avg7']:,.0f}" in line
    edit_line = next(line for line in text.splitlines() if line.startswith("EditAttemptStep "))
    assert f"{40 / (40 + daily('EditAttemptStep', DAY).valid) * 100:.1f}%" in edit_line
    orphan = next(line for line in text.splitlines() if line.startswith("Orphan "))
    assert " new " in orphan
    assert "(no schema)" in text and "SCHEMAS WITHOUT AN OWNER" in text and "  Orphan" in text
    assert "event.action" in text and "5 of 6 kinds of error shown" in text
    assert SCRIPT in text  # text is text: shown as written, harmless in a text/plain part
    for secret in SECRETS:
        assert secret not in text, secret
    assert "[redacted]" in text


def test_html_escapes_and_redacts(sqlite_url: str, catalog_file: Path) -> None:
    report = report_from(sqlite_url, catalog_file)
    html = standalone_html(report)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html
    assert "Evil&lt;script&gt;x&lt;/script&gt;" in html
    for secret in SECRETS:
        assert secret not in html, secret
    assert html.count('src="data:image/png;base64,') == 2


def test_a_failed_chart_does_not_stop_the_report(sqlite_url, catalog_file, monkeypatch) -> None:
    from el_monitor.report import charts

    def broken(*_args):
        raise RuntimeError("no renderer")

    monkeypatch.setattr(charts, "trend_chart", broken)
    report = report_from(sqlite_url, catalog_file)
    drawn = make_charts(report)
    assert [c.png is None for c in drawn] == [False, True]
    html = render_html(report, drawn, lambda c: "cid:x")
    assert "could not be drawn (RuntimeError: no renderer)" in html


def test_an_empty_day_says_so(tmp_path: Path, catalog_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    store = open_store(url)
    create_counts_tables(store)
    store.close()
    report = report_from(url, catalog_file)
    assert not report.has_data and report.schemas == ()
    assert "No counts were recorded" in render_text(report)
    assert "no counts recorded" in report.subject
    assert standalone_html(report).count("data:image/png") == 2


# --- the command --------------------------------------------------------------------------


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``el-monitor ARGS`` in-process, with ``report`` registered if cli.py does not yet."""
    build = cli.build_parser

    def with_report():
        parser = build()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "report" not in commands.choices:
            cli_report.register(commands)
        return parser

    monkeypatch.setattr(cli, "build_parser", with_report)
    return cli.main(list(args))


def test_cli_prints_text_without_send(sqlite_url, catalog_file, monkeypatch, capsys) -> None:
    code = run_cli(
        monkeypatch,
        "report", "daily", "--date", str(DAY), "--db", sqlite_url, "--config", str(catalog_file),
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
    assert "&lt;script&gt;alert(" in ops_html and "Schemas without an owner" in ops_html
    for name in ("NavigationTiming", "EditAttemptStep", "Orphan", "Shared"):
        assert f"<td>{name}</td>" in ops_html

    def schemas_in(rcpt: str) -> set[str]:
        _, html, _ = _parts(by_rcpt[(rcpt,)])
        return set(re.findall(r"<tr><td>([A-Za-z-]+)</td>", html))

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
        "--config", str(catalog_file), "--send", "--smtp", f"127.0.0.1:{port}",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"127.0.0.1:{port}" in err and "Traceback" not in err


# --- the browser ----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.dataset.images = loaded.length + "/" + images.length;
  document.body.dataset.sizes = images.map(function (i) {
    return i.naturalWidth + "x" + i.naturalHeight; }).join(" ");
});
</script>"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", *args,
        ],
        capture_output=True,
        timeout=90,
        env={**os.environ, "HOME": str(profile)},
    )  # fmt: skip


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _distinct_colours(data: bytes) -> int:
    """How many colours the screenshot has: a blank page has one or two."""
    width, height = _png_size(data)
    bit_depth, colour_type = data[24], data[25]
    assert bit_depth == 8 and colour_type in (2, 6)
    raw, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            raw += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(raw)
    channels = 3 if colour_type == 2 else 4
    stride = 1 + width * channels
    seen = set()
    for row in range(0, height, 7):  # sample rows; filters do not matter for "how many"
        line = pixels[row * stride + 1 : (row + 1) * stride]
        seen.update(line[i : i + 3] for i in range(0, len(line), channels * 5))
    return len(seen)


@pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason="Debian's chromium is not installed (scripts/ensure-monitoring installs it when run "
    "as root: apt-get install --no-install-recommends chromium)",
)
def test_report_opens_in_chromium_with_every_image(
    sqlite_url, catalog_file, tmp_path, monkeypatch, capsys
) -> None:
    output = tmp_path / "report.html"
    code = run_cli(
        monkeypatch, "report", "daily", "--date", str(DAY), "--db", sqlite_url,
        "--config", str(catalog_file), "--output", str(output),
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    html = output.read_text()
    assert "<script" not in html.lower()  # the report itself carries no script
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "\n</body>"))
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = chromium(Path(profile), "--dump-dom", probed.as_uri())
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        dom = done.stdout.decode()
        found = re.search(r'data-images="(\d+)/(\d+)"', dom)
        assert found, dom[:2000]
        assert found[1] == found[2] == "2", f"images loaded/total: {found[1]}/{found[2]}"
        sizes = re.search(r'data-sizes="([^"]*)"', dom)[1].split()
        assert all(int(w) > 100 and int(h) > 100 for w, h in (s.split("x") for s in sizes))
        assert "Evil&lt;script&gt;x&lt;/script&gt;" in dom  # still text once parsed

        shot = tmp_path / "shot.png"
        done = chromium(
            Path(profile), f"--screenshot={shot}", "--window-size=1200,1600", output.as_uri()
        )
        assert done.returncode == 0 and shot.exists(), done.stderr.decode()[-2000:]
    data = shot.read_bytes()
    assert _png_size(data) == (1200, 1600)
    assert len(data) > 20_000 and _distinct_colours(data) > 20


def test_data_uris_are_the_charts(sqlite_url, catalog_file) -> None:
    report = report_from(sqlite_url, catalog_file)
    drawn = make_charts(report)
    html = standalone_html(report, drawn)
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert [base64.b64decode(u) for u in uris] == [c.png for c in drawn]
