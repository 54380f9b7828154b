"""The mail ``el-monitor notify`` sends, against a real SMTP server: a failed graph still sends
with a note and the link, an SMTP server that is down is one clear line, the command reads
Icinga's environment and --dry-run sends nothing, login with a password file, the shared figure
and template helpers, and the catalog's ``[smtp]``/``[alerts]`` tables.
"""

from __future__ import annotations

import socket
import textwrap

import pytest

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import CatalogError
from el_monitor.mail import smtp as mail
from el_monitor.mail.message import build_message
from el_monitor.notify.dispatch import notify

from .support import (
    PROBLEM_FLAGS,
    RATE_OUTPUT,
    RATE_PERF,
    T0,
    Clock,
    by_recipient,
    parts,
    problem,
    run_cli,
    write_catalog,
)


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


def test_dry_run_says_the_mail_would_go_without_a_graph(catalog_path, inbox, render, capsys):
    render.status = 500
    flags = ("--config", str(catalog_path), "--dry-run", *PROBLEM_FLAGS)
    assert run_cli("notify", *flags) == 0
    err = capsys.readouterr().err
    assert "el-monitor: would be mailed without a graph: " in err and "HTTP 500" in err
    assert "el-monitor: mailed" not in err and inbox.take() == []


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


def test_shared_figure_and_template_helpers():
    from el_monitor.mail import figures, templates

    png = figures.png(figures.new_figure(2.0, 1.0, 50))
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n") and (png.width, png.height) == (100, 50)
    assert b"Software" not in png.data and b"matplotlib" not in png.data
    assert figures.plain("$.action costs $5") == r"\$.action costs \$5"
    env = templates.environment({"shout": str.upper}, {"WHO": "ops"})
    assert env.autoescape("alert.html.j2") and not env.autoescape("alert.txt.j2")
    assert env.from_string("{{ WHO | shout }} {{ 'abcdef' | cut(4) }}").render() == "OPS abc…"


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
