"""``el-monitor notify`` against a real SMTP server (aiosmtpd) and a stub render API.

Every mail is parsed back from what the SMTP server received: envelope recipients, subject,
the text part, the HTML part and its inline PNG referenced by ``cid:``.  Repeats, recovery and
flapping run on a controlled clock.  Also here: the catalog's ``[smtp]``/``[alerts]`` tables,
the redaction helpers the daily report shares, and which schemas a notification blames.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import textwrap
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from harness.smtp import FreePortController, Inbox

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import CatalogError
from el_monitor.cli import notify as cli_alerts
from el_monitor.errors import UserError
from el_monitor.mail import smtp as mail
from el_monitor.mail.message import build_message
from el_monitor.mail.redact import NESTED, REDACTED, redact_event, safe_text, scrub
from el_monitor.notify.culprits import culprits
from el_monitor.notify.dispatch import notify
from el_monitor.notify.notification import Notification
from el_monitor.notify.perfdata import parse_perfdata

T0 = 1_800_000_000.0  # the controlled clock starts here
HOUR = 3600.0
RATE_OUTPUT = (
    "EL_RATE CRITICAL - 243.1 events/s over the last 10min (8 of 10 points above 200); "
    "top: NavigationTiming 180.2/s, SaveTiming 40.3/s, EditAttemptStep 12/s"
)
RATE_PERF = (
    "rate=243.1;150;200;0 NavigationTiming=180.2;;;0 SaveTiming=40.3;;;0 EditAttemptStep=12;;;0"
)
OK_OUTPUT = (
    "EL_RATE OK - 80 events/s over the last 10min (0 of 10 points above 150); "
    "top: NavigationTiming 60/s, HelpPanel 5/s"
)
# A PROBLEM for the rate burst above, as notify's command-line flags.
PROBLEM_FLAGS = [
    "--type", "PROBLEM", "--host", "eventlogging", "--service", "el-rate",
    "--state", "CRITICAL", "--output", RATE_OUTPUT, "--perfdata", RATE_PERF,
]  # fmt: skip


# --- servers ---------------------------------------------------------------------------------


@pytest.fixture
def inbox(smtp: FreePortController) -> Inbox:
    """What the test's SMTP server (the shared ``smtp`` fixture) received; it knows the
    catalog's SMTP user."""
    smtp.handler.accounts["alerts"] = "s3cret-pass"
    return smtp.handler


class RenderStub:
    """graphite-web's /render: one series per ``alias(..., "NAME")`` target, or a failure."""

    def __init__(self) -> None:
        self.status = 200
        self.queries: list[list[tuple[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                query = parse_qsl(urlsplit(self.path).query)
                stub.queries.append(query)
                if stub.status != 200:
                    body = b"<html><title>Internal Server Error</title></html>"
                else:
                    body = json.dumps(stub.answer(query)).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def answer(query: list[tuple[str, str]]) -> list[dict]:
        out = []
        end = int(T0) // 60 * 60
        for n, (key, target) in enumerate(query):
            if key != "target":
                continue
            name = re.search(r',"([^"]+)"\)$', target)
            points = [[50.0 + n * 20 + (i % 7), end - 6 * 3600 + 60 * i] for i in range(360)]
            points[100][0] = None  # a gap stays a gap
            out.append({"target": name[1] if name else target, "datapoints": points})
        return out

    def targets(self) -> list[str]:
        return [v for q in self.queries for k, v in q if k == "target"]


@pytest.fixture(scope="module")
def render() -> Iterator[RenderStub]:
    stub = RenderStub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture(autouse=True)
def _render_ok(render: RenderStub) -> None:
    render.status = 200
    render.queries.clear()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def write_catalog(tmp_path: Path, smtp_port: int, graphite: str, extra: str = "") -> Path:
    path = tmp_path / "el-monitor.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            ops = ["ops@example.org"]

            [smtp]
            host = "127.0.0.1"
            port = {smtp_port}
            mail_from = "el-monitor@example.org"
            timeout = 5

            [alerts]
            graphite_url = "{graphite}"
            graphite_link = "https://graphite.example.org"
            runbook_url = "https://wiki.example.org/Runbook/{{service}}#{{schema}}"
            {extra}

            [schema.NavigationTiming]
            owners = ["perf-team@example.org"]
            max_rate = 150

            [schema.SaveTiming]
            owners = ["perf-team@example.org"]

            [schema.EditAttemptStep]
            owners = ["editing-team@example.org"]
            user_fields = ["user_id"]
            """
        )
    )
    return path


@pytest.fixture
def catalog_path(tmp_path, smtp, render) -> Path:
    return write_catalog(tmp_path, smtp.port, render.url)


def problem(**changes: object) -> Notification:
    values: dict = dict(
        type="PROBLEM",
        host="eventlogging",
        service="el-rate",
        state="CRITICAL",
        output=RATE_OUTPUT,
        perfdata=RATE_PERF,
        time=T0,
    )
    values.update(changes)
    return Notification(**values)


def parts(message: EmailMessage) -> tuple[str, str, list[EmailMessage]]:
    """The text, the HTML and the image parts of one message (checking its structure)."""
    assert message.get_content_type() == "multipart/alternative"
    text_part, related = message.get_payload()
    assert text_part.get_content_type() == "text/plain"
    if related.get_content_type() == "text/html":
        return text_part.get_content(), related.get_content(), []
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    return text_part.get_content(), html_part.get_content(), images


def by_recipient(messages: list[tuple[list[str], EmailMessage]]) -> dict[str, EmailMessage]:
    return {",".join(sorted(rcpt)): message for rcpt, message in messages}


# --- the kinds of message --------------------------------------------------------------------


def test_problem_mails_each_owner_group_with_the_graph_inline(catalog_path, inbox, render):
    catalog = load_catalog(catalog_path)
    result = notify(problem(), catalog, clock=Clock())
    assert result.failure is None and len(result.messages) == 2
    mails = by_recipient(inbox.take())
    assert set(mails) == {"perf-team@example.org", "editing-team@example.org"}

    perf = mails["perf-team@example.org"]
    assert (
        perf["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-rate — NavigationTiming, SaveTiming"
    )
    assert perf["From"] == "el-monitor@example.org"
    assert perf["Auto-Submitted"] == "auto-generated"
    text, html, images = parts(perf)
    assert len(images) == 1
    image = images[0]
    assert image.get_content_type() == "image/png"
    assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert "* NavigationTiming: 180.2" in text and "* SaveTiming: 40.3" in text
    assert "* EditAttemptStep" not in text
    assert RATE_OUTPUT in text
    assert "https://graphite.example.org/render?target=" in text
    assert "https://wiki.example.org/Runbook/el-rate#NavigationTiming" in html
    assert "What to do" in text and "perf-team@example.org" in text

    editing = mails["editing-team@example.org"]
    assert editing["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-rate — EditAttemptStep"
    assert len(parts(editing)[2]) == 1

    # One render query for everything mailed: each schema's rate and the judged overall rate.
    assert len(render.queries) == 1
    assert render.targets() == [
        'alias(sumSeries(eventlogging.*.schema.NavigationTiming.raw.rate),"NavigationTiming")',
        'alias(sumSeries(eventlogging.*.schema.SaveTiming.raw.rate),"SaveTiming")',
        'alias(sumSeries(eventlogging.*.schema.EditAttemptStep.raw.rate),"EditAttemptStep")',
        'alias(sumSeries(eventlogging.*.overall.raw.rate),"overall")',
    ]
    assert ("from", "-6h") in render.queries[0]


def test_unowned_schema_and_service_level_alerts_go_to_ops(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    schema_rate = problem(
        service="el-schema-rate",
        output="EL_SCHEMA_RATE CRITICAL - HelpPanel 243.1/s > 200 (8 of 10 points; owners: -)",
        perfdata="HelpPanel=243.1;150;200;0 NavigationTiming=20;112.5;150;0",
    )
    notify(schema_rate, catalog, clock=clock)
    inserted = problem(
        service="el-inserted",
        output="EL_INSERTED CRITICAL - nothing inserted for the last 90 s while 1234 valid "
        "events arrived",
        perfdata="ratio=0;0.9:;0.5:;0 stalled=90s valid=1234;;;0 inserted=0;;;0",
    )
    notify(inserted, catalog, clock=clock)
    (rcpt1, first), (rcpt2, second) = inbox.take()
    assert rcpt1 == rcpt2 == ["ops@example.org"]
    assert first["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-schema-rate — HelpPanel"
    assert "no owner is set for HelpPanel" in parts(first)[0]
    assert second["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-inserted on eventlogging"
    assert "the alert names no schema" in parts(second)[0]


def test_recovery_reaches_whoever_was_told_of_the_problem(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    notify(problem(), catalog, clock=clock)
    inbox.take()
    clock.now += 1200
    # The OK line names other schemas (HelpPanel): the recovery still goes to the problem's.
    result = notify(
        problem(type="RECOVERY", state="OK", output=OK_OUTPUT, perfdata="rate=80;150;200;0"),
        catalog,
        clock=clock,
    )
    assert result.failure is None
    mails = by_recipient(inbox.take())
    assert set(mails) == {"perf-team@example.org", "editing-team@example.org"}
    perf = mails["perf-team@example.org"]
    assert perf["Subject"] == "[el-monitor] RECOVERY: OK el-rate — NavigationTiming, SaveTiming"
    text, _, images = parts(perf)
    assert "has recovered" in text and "Nothing to do" in text and len(images) == 1


def test_acknowledgement_wording(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    notify(problem(), catalog, clock=clock)
    inbox.take()
    clock.now += 60
    notify(problem(type="ACKNOWLEDGEMENT"), catalog, clock=clock)
    mails = by_recipient(inbox.take())
    perf = mails["perf-team@example.org"]
    assert perf["Subject"] == (
        "[el-monitor] ACKNOWLEDGEMENT: CRITICAL el-rate — NavigationTiming, SaveTiming"
    )
    assert "was acknowledged" in parts(perf)[0]


def test_flapping_is_summarised_once_until_it_settles(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    ok = problem(type="RECOVERY", state="OK", output=OK_OUTPUT, perfdata="rate=80;150;200;0")
    sent = []
    for i in range(8):  # CRITICAL, OK, CRITICAL, ... every 5 minutes
        notify(problem() if i % 2 == 0 else ok, catalog, clock=clock)
        sent.append([m["Subject"] for _, m in inbox.take()])
        clock.now += 300
    assert all(len(s) == 2 for s in sent[:5])  # changes 1..5: mailed as they come
    assert sent[5] == [
        "[el-monitor] FLAPPING: el-rate — NavigationTiming, SaveTiming",
        "[el-monitor] FLAPPING: el-rate — EditAttemptStep",
    ]
    assert sent[6] == sent[7] == []  # held while it keeps flapping
    clock.now += HOUR  # the changes fall out of the window: settled
    notify(problem(), catalog, clock=clock)
    (_, settled), _ = inbox.take()
    assert settled["Subject"].startswith("[el-monitor] PROBLEM: CRITICAL el-rate")
    assert "stopped flapping" in parts(settled)[0]


def test_flapping_summary_text(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    ok = problem(type="RECOVERY", state="OK", output=OK_OUTPUT, perfdata="rate=80;150;200;0")
    for i in range(6):
        notify(problem() if i % 2 == 0 else ok, catalog, clock=clock)
        clock.now += 60
    summary = by_recipient(inbox.take()[-2:])["perf-team@example.org"]
    text, html, _ = parts(summary)
    assert "el-rate is flapping: 6 changes in the last hour" in text
    assert "el-rate is flapping: 6 changes in the last hour" in html


def test_repeat_interval_state_change_and_recovery(catalog_path, inbox, tmp_path):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    notify(problem(), catalog, clock=clock)
    assert len(inbox.take()) == 2
    clock.now += 30 * 60  # Icinga's reminder: held back
    held = notify(problem(), catalog, clock=clock)
    assert held.messages == () and inbox.take() == []
    assert set(held.held) == {"NavigationTiming", "SaveTiming", "EditAttemptStep"}
    # A schema new to the problem is mailed at once, alone.
    clock.now += 60
    more = problem(output=RATE_OUTPUT + ", HelpPanel 3/s", perfdata=RATE_PERF + " HelpPanel=3")
    notify(more, catalog, clock=clock)
    [(rcpt, message)] = inbox.take()
    assert rcpt == ["ops@example.org"] and message["Subject"].endswith("— HelpPanel")
    # A change of state (CRITICAL -> WARNING) is mailed within the interval.
    clock.now += 60
    notify(problem(state="WARNING"), catalog, clock=clock)
    assert {m["Subject"].split(" el-rate")[0] for _, m in inbox.take()} == {
        "[el-monitor] PROBLEM: WARNING"
    }
    # After the repeat interval the same state is mailed again.
    clock.now += 4 * HOUR + 1
    notify(problem(state="WARNING"), catalog, clock=clock)
    assert len(inbox.take()) == 2
    # Recoveries always go out: to everyone told of the problem (HelpPanel's ops included) ...
    clock.now += 60
    notify(problem(type="RECOVERY", state="OK", output=OK_OUTPUT), catalog, clock=clock)
    assert len(inbox.take()) == 3
    # ... and a second one, with no problem remembered, to ops: an OK line names no culprit.
    clock.now += 60
    notify(problem(type="RECOVERY", state="OK", output=OK_OUTPUT), catalog, clock=clock)
    [(rcpt, message)] = inbox.take()
    assert rcpt == ["ops@example.org"]
    assert message["Subject"] == "[el-monitor] RECOVERY: OK el-rate on eventlogging"
    state = json.loads((tmp_path / "el-monitor-notify.state.json").read_text())
    assert state["services"]["eventlogging!el-rate"]["state"] == "OK"


def test_graph_failure_still_sends_with_a_note_and_the_link(catalog_path, inbox, render):
    render.status = 500
    result = notify(problem(), load_catalog(catalog_path), clock=Clock())
    assert result.failure is None and "HTTP 500" in (result.graph_note or "")
    mails = by_recipient(inbox.take())
    text, html, images = parts(mails["perf-team@example.org"])
    assert images == []
    assert "No graph: Graphite did not answer the graph query (HTTP 500" in text
    assert "See it in Graphite: https://graphite.example.org/render?target=" in text
    assert "cid:" not in html and 'href="https://graphite.example.org/render?target=' in html


def test_planted_markup_is_escaped_and_private_data_redacted(catalog_path, inbox):
    planted = (
        "EL_INVALID CRITICAL - EditAttemptStep 34% invalid (most: validation at $.action "
        "<script>alert('x')</script> user_id=4242 token=Zq81ab93kd02mf83nd92ke81 from "
        "203.0.113.7 and 2001:db8::7 userAgent: Mozilla/5.0 (X11; Linux x86_64) "
        "Firefox/120.0); Nav<script>Evil</script> 9% invalid"
    )
    perfdata = (
        "EditAttemptStep=34%;5;20;0;100 'Nav<script>Evil</script>'=9%;5;20;0;100 "
        "sess_8f14e45fceea167a5a36dedd4bea2543=1"
    )
    notify(
        problem(service="el-invalid", output=planted, perfdata=perfdata),
        load_catalog(catalog_path),
        clock=Clock(),
    )
    [(rcpt, message)] = inbox.take()
    assert rcpt == ["editing-team@example.org"]  # junk labels are not taken for schemas
    assert message["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-invalid — EditAttemptStep"
    text, html, _ = parts(message)
    assert "<script>" not in html and "&lt;script&gt;alert(" in html
    assert "Nav&lt;script&gt;Evil&lt;/script&gt;" in html
    whole = message.as_string() + text + html
    for secret in (
        "4242",
        "Zq81ab93kd02mf83nd92ke81",
        "203.0.113.7",
        "2001:db8::7",
        "Mozilla",
        "Firefox",
        "8f14e45fceea167a5a36dedd4bea2543",
    ):
        assert secret not in whole, secret
    assert f"user_id={REDACTED}" in text


# --- SMTP: failures, login -------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    """``el-monitor`` as cli.main runs it: our subcommand, UserError -> one line, 2."""
    parser = argparse.ArgumentParser(prog="el-monitor")
    parser.add_argument("--config")
    cli_alerts.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        import sys

        print(f"el-monitor: {exc}", file=sys.stderr)
        return 2


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_smtp_down_is_one_clear_line_and_nothing_is_recorded(catalog_path, inbox, smtp, capsys):
    flags = PROBLEM_FLAGS
    port = closed_port()
    status = run_cli("notify", "--config", str(catalog_path), "--smtp", f"127.0.0.1:{port}", *flags)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == [
        f"el-monitor: SMTP server 127.0.0.1:{port}: cannot connect (Connection refused); "
        "check [smtp] or --smtp"
    ]
    # Nothing was recorded as sent: with the server back, the same notification goes out.
    assert run_cli("notify", "--config", str(catalog_path), *flags) == 0
    assert len(inbox.take()) == 2
    assert "mailed perf-team@example.org" in capsys.readouterr().out


def test_cli_reads_icinga_environment_and_dry_run_sends_nothing(
    catalog_path, inbox, monkeypatch, capsys, tmp_path
):
    for name, value in dict(
        TYPE="PROBLEM",
        HOST="eventlogging",
        SERVICE="el-rate",
        STATE="CRITICAL",
        OUTPUT=RATE_OUTPUT,
        PERFDATA=RATE_PERF,
        TIME=str(int(T0)),
    ).items():
        monkeypatch.setenv(f"EL_NOTIFY_{name}", value)
    state = tmp_path / "dry.json"
    assert (
        run_cli("notify", "--config", str(catalog_path), "--dry-run", "--state-file", str(state))
        == 0
    )
    out = capsys.readouterr().out
    assert "Subject: [el-monitor] PROBLEM: CRITICAL el-rate — NavigationTiming, SaveTiming" in out
    assert "[image/png part" in out and inbox.take() == [] and not state.exists()
    # The flags win over the environment.
    assert (
        run_cli(
            "notify",
            "--config",
            str(catalog_path),
            "--state-file",
            str(state),
            "--service",
            "el-schema-rate",
            "--ops",
            "oncall@example.org",
        )
        == 0
    )
    subjects = sorted(m["Subject"] for _, m in inbox.take())
    assert subjects[0].startswith("[el-monitor] PROBLEM: CRITICAL el-schema-rate — ")
    assert state.exists()


def test_missing_notification_facts_and_no_ops(catalog_path, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("EL_NOTIFY_TYPE", raising=False)
    assert run_cli("notify", "--config", str(catalog_path), "--service", "x", "--state", "OK") == 2
    assert "no notification type: give --type or set EL_NOTIFY_TYPE" in capsys.readouterr().err
    bare = tmp_path / "bare.toml"
    bare.write_text(catalog_path.read_text().replace('ops = ["ops@example.org"]', ""))
    status = run_cli(
        "notify",
        "--config",
        str(bare),
        "--type",
        "PROBLEM",
        "--service",
        "el-inserted",
        "--state",
        "CRITICAL",
        "--output",
        "EL_INSERTED CRITICAL",
    )
    assert status == 1
    assert "nobody to mail about *" in capsys.readouterr().err


def test_login_with_password_file_and_refused_login(smtp, inbox, tmp_path, render):
    port = smtp.port
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret-pass\n")
    path = write_catalog(
        tmp_path,
        port,
        render.url,
    )
    text = path.read_text().replace(
        "timeout = 5", f'timeout = 5\nuser = "alerts"\npassword_file = "{secret.name}"'
    )
    path.write_text(text)
    catalog = load_catalog(path)
    assert catalog.smtp.password_file == str(secret)
    message = build_message("s", "a@example.org", ["b@example.org"], "t", "<p>h</p>", {})
    mail.send(catalog.smtp, [message])
    assert inbox.logins[-1] == ("alerts", "s3cret-pass") and len(inbox.take()) == 1
    secret.write_text("wrong\n")
    with pytest.raises(mail.MailError, match="login as 'alerts' refused"):
        mail.send(catalog.smtp, [message])
    # Without a file, the environment; without either, a clear refusal before connecting.
    from dataclasses import replace

    bare = replace(catalog.smtp, password_file=None)
    mail.send(bare, [message], env={"EL_MONITOR_SMTP_PASSWORD": "s3cret-pass"})
    with pytest.raises(mail.MailError, match="no password: set \\[smtp\\] password_file"):
        mail.send(bare, [message], env={})
    starttls = replace(bare, security="starttls")
    with pytest.raises(mail.MailError, match="does not offer STARTTLS"):
        mail.send(starttls, [message], env={"EL_MONITOR_SMTP_PASSWORD": "x"})


# --- pieces ----------------------------------------------------------------------------------


def test_culprits_rule():
    catalog = load_catalog_text("")
    schema_rate = Notification(
        "PROBLEM",
        "h",
        "el-schema-rate",
        "CRITICAL",
        "EL_SCHEMA_RATE CRITICAL - NavigationTiming 243.1/s > 200 (8 of 10 points; owners: -)",
        "NavigationTiming=243.1;150;200;0 SaveTiming=20;150;200;0 EditAttemptStep=1;1;2;0",
    )
    perf = parse_perfdata(schema_rate.perfdata)
    assert culprits(schema_rate, perf, catalog) == ["NavigationTiming"]
    # Nothing named in the status line: the values outside their own ranges.
    quiet = Notification(
        "PROBLEM", "h", "x", "CRITICAL", "X CRITICAL - see perfdata", schema_rate.perfdata
    )
    assert culprits(quiet, perf, catalog) == ["NavigationTiming"]
    # Generic metrics and a quoted label with spaces are never schemas.
    rate = Notification(
        "PROBLEM",
        "h",
        "el-rate",
        "CRITICAL",
        "overall rate 5 'a b' 5",
        "rate=5;1;2 overall=5;1;2 'a b'=5;1;2",
    )
    assert culprits(rate, parse_perfdata(rate.perfdata), catalog) == []
    assert parse_perfdata("'it''s'=1.5s;1;2;0;10 junk x=U")[0].label == "it's"
    # An output that is all perfdata names nothing (and is no reason to fail).
    bare = Notification("PROBLEM", "h", "x", "CRITICAL", "|NavigationTiming=243;150;200", "")
    assert culprits(bare, perf, catalog) == ["NavigationTiming"]


@pytest.mark.parametrize(
    ("text", "limit", "crossed_at"),
    [
        ("NavigationTiming=243.1;150;200;0", 200.0, True),  # 0..200: the end is the limit
        ("NavigationTiming=5;10:;20:", 20.0, True),  # at least 20: the start is the limit
        ("NavigationTiming=15;~:10", 10.0, True),
        ("NavigationTiming=15;5:20", 20.0, False),
        ("NavigationTiming=7;;@5:10", None, True),  # inside range: alert within, no line
        ("NavigationTiming=70;;@5:10", None, False),
        ("NavigationTiming=243;x;1:2:3", None, False),  # malformed ranges are ignored
        ("NavigationTiming=243;10:5;@", None, False),  # start past end; a bare "@"
        ("NavigationTiming=243;;bad;0", None, False),
        ("NavigationTiming=243;150;;0", 150.0, True),  # no critical: the warning
        ("NavigationTiming=U;150;200", 200.0, False),  # no value: never crossed
    ],
)
def test_perfdata_ranges_are_read_as_nagiosplugin_reads_them(text, limit, crossed_at):
    (perf,) = parse_perfdata(text)
    assert perf.limit() == limit and perf.crossed() is crossed_at


def test_shared_figure_and_template_helpers():
    from el_monitor.mail import figures, templates

    png = figures.png(figures.new_figure(2.0, 1.0, 50))
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n") and (png.width, png.height) == (100, 50)
    assert b"Software" not in png.data and b"matplotlib" not in png.data
    assert figures.plain("$.action costs $5") == r"\$.action costs \$5"
    env = templates.environment({"shout": str.upper}, {"WHO": "ops"})
    assert env.autoescape("alert.html.j2") and not env.autoescape("alert.txt.j2")
    assert env.from_string("{{ WHO | shout }} {{ 'abcdef' | cut(4) }}").render() == "OPS abc…"


def load_catalog_text(text: str, name: str = "c.toml") -> object:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        return load_catalog(path)


def test_catalog_smtp_and_alerts_tables(tmp_path):
    path = tmp_path / "el-monitor.toml"
    path.write_text('ops = ["ops@example.org"]\n')
    catalog = load_catalog(path)
    assert (catalog.smtp.host, catalog.smtp.port, catalog.smtp.security) == (
        "localhost",
        25,
        "none",
    )
    assert catalog.alerts.repeat_interval == 14400 and catalog.alerts.flap_changes == 5
    assert catalog.alerts.state_file == str(tmp_path / "el-monitor-notify.state.json")
    assert catalog.alerts.report_recipients == ("ops@example.org",)
    assert catalog.smtp.sender().startswith("el-monitor@")
    path.write_text(
        textwrap.dedent(
            """
            [smtp]
            host = "mail.example.org"
            port = 587
            security = "starttls"
            password = "hunter2"
            timout = 3

            [alerts]
            graphite_url = "graphite.example.org"
            runbook_url = "https://wiki.example.org/{schemaa}"
            flap_changes = 0
            report_recipients = ["not an address"]
            """
        ).lstrip()
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    found = [p[len(str(path)) + 1 :] for p in caught.value.problems]
    assert found == [
        "5: smtp.password: no passwords in the catalog: put it in a file named by "
        "password_file (readable only by el-monitor) or in $EL_MONITOR_SMTP_PASSWORD",
        "6: smtp.timout: unknown key 'timout' (did you mean 'timeout'?)",
        "9: alerts.graphite_url: must be an http:// or https:// URL such as "
        'http://graphite.example.org, not "graphite.example.org"',
        "10: alerts.runbook_url: unknown placeholder {schemaa}; use {schema}, {service} or {host}",
        "11: alerts.flap_changes: must be an integer >= 1 (state changes in flap_window before "
        "a service is flapping), not 0",
        '12: alerts.report_recipients: "not an address" is not an email address like '
        "team@example.org",
    ]


def test_redact_event_and_safe_text():
    capsule = {
        "schema": "TemplateWizard",
        "revision": 1,
        "wiki": "enwiki",
        "userAgent": "Mozilla/5.0",
        "recvFrom": "cp1001",
        "seqId": 7,
        "clientIp": "198.51.100.4",
        "event": {
            "performer": {"user_id": 42, "edit_count": 3},
            "session_token": "abc",
            "note": "from 198.51.100.9 <b>hi</b>",
            "action": "save",
        },
    }
    out = json.loads(redact_event(json.dumps(capsule), ["performer.edit_count"]))
    assert out["userAgent"] == out["recvFrom"] == out["seqId"] == out["clientIp"] == REDACTED
    assert out["event"]["performer"] == {"user_id": REDACTED, "edit_count": REDACTED}
    assert out["event"]["session_token"] == REDACTED
    assert out["event"]["note"] == f"from {REDACTED} <b>hi</b>"  # escaping is the template's
    assert out["event"]["action"] == "save" and out["wiki"] == "enwiki"
    assert redact_event("{broken user_id=1", ["x"]) == "[unparseable event, 17 bytes]"
    raw = "?%7B%22event%22%3A%7B%22userId%22%3A5%7D%7D; cp1 12 2020-01-01 198.51.100.4 Mozilla/5"
    assert redact_event(raw) == '{"event":{"userId":"[redacted]"}}'
    assert safe_text("a\nb\x00c " + "x" * 50, 10) == "a bc xxxx…"
    # Examples from the wire nest as deep as they like: cut, never a RecursionError.
    assert redact_event("[" * 4096).startswith("[unparseable event")
    deep = json.loads(redact_event('{"event": {"a": ' + "[" * 900 + "]" * 900 + "}}"))
    assert json.dumps(deep).count("[") < 20 and NESTED in json.dumps(deep)
    assert scrub("seen 10.0.0.1 at 13:55:10") == f"seen {REDACTED} at 13:55:10"


def test_unusable_or_corrupt_state_file_never_stops_the_alert(
    catalog_path, inbox, tmp_path, capsys
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    flags = PROBLEM_FLAGS
    status = run_cli(
        "notify", "--config", str(catalog_path), "--state-file", str(blocker / "state.json"), *flags
    )
    assert status == 1 and len(inbox.take()) == 2
    assert "repeats not suppressed: notify state file" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    assert (
        run_cli("notify", "--config", str(catalog_path), "--state-file", str(corrupt), *flags) == 0
    )
    assert len(inbox.take()) == 2
    assert "eventlogging!el-rate" in json.loads(corrupt.read_text())["services"]
