"""What the ``el-monitor notify`` tests share: a controlled clock, the notification facts of a
rate burst, a stub render API, the catalog they run with, and helpers to take mails apart.

The fixtures built on these (``inbox``, ``render``, ``catalog_path``) are in this directory's
conftest.py.
"""

from __future__ import annotations

import argparse
import json
import re
import textwrap
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from el_monitor.cli import notify as cli_alerts
from el_monitor.errors import UserError
from el_monitor.notify.notification import Notification

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
