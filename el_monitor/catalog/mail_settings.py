"""The catalog's ``[smtp]`` and ``[alerts]`` tables, checked and built into mail settings.

The values belong to the mail code (``el_monitor.mail.settings``); checking them here, with the
rest of the file, keeps every problem of the catalog reported together as FILE:LINE.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

from el_monitor.catalog.checker import EMAIL_RE, HOST_RE, URL_RE, Checker, is_int, is_number, is_str
from el_monitor.graphite.names import PREFIX
from el_monitor.mail.settings import RUNBOOK_FIELDS, SMTP_SECURITY, AlertSettings, SmtpSettings

__all__ = ["ALERT_KEYS", "SMTP_KEYS", "alert_settings", "smtp_settings"]

SMTP_KEYS = ("host", "port", "security", "user", "password_file", "mail_from", "timeout")
ALERT_KEYS = (
    "graphite_url",
    "graphite_link",
    "graphite_prefix",
    "runbook_url",
    "repeat_interval",
    "flap_changes",
    "flap_window",
    "state_file",
    "graph_hours",
    "report_recipients",
)


def smtp_settings(check: Checker, value: object) -> SmtpSettings:
    """``[smtp]``: where mail is handed off.  A ``password`` key is refused outright:
    a secret in a file that is read by everyone who reads policy is a leak."""
    table = check.table(value, "smtp")
    if "password" in table:
        check.problem(
            ("smtp", "password"),
            "no passwords in the catalog: put it in a file named by password_file "
            "(readable only by el-monitor) or in $EL_MONITOR_SMTP_PASSWORD",
        )
    check.unknown_keys({k: v for k, v in table.items() if k != "password"}, ("smtp",), SMTP_KEYS)
    out: dict[str, Any] = {}
    check.setting(
        table,
        ("smtp", "host"),
        is_str,
        "a host name or address such as mail.example.org",
        lambda v: bool(HOST_RE.fullmatch(v)),
        into=out,
    )
    check.setting(
        table,
        ("smtp", "port"),
        is_int,
        "a port number 1..65535 (25, 587 with starttls, 465 with tls)",
        lambda v: 1 <= v <= 65535,
        into=out,
    )
    check.setting(
        table,
        ("smtp", "security"),
        is_str,
        f"one of {', '.join(map(repr, SMTP_SECURITY))}",
        lambda v: v in SMTP_SECURITY,
        into=out,
    )
    check.setting(
        table,
        ("smtp", "user"),
        is_str,
        "a user name (a non-empty string)",
        lambda v: bool(v.strip()),
        into=out,
    )
    if "password_file" in table:
        out["password_file"] = check.file_name(table, ("smtp", "password_file"))
    check.setting(
        table,
        ("smtp", "mail_from"),
        is_str,
        "an email address like el-monitor@example.org",
        lambda v: bool(EMAIL_RE.fullmatch(v)),
        into=out,
    )
    timeout = check.setting(
        table, ("smtp", "timeout"), is_number, "a positive number of seconds", lambda v: v > 0
    )
    if timeout is not None:
        out["timeout"] = float(timeout)
    return SmtpSettings(**out)


def alert_settings(check: Checker, value: object, ops: tuple[str, ...]) -> AlertSettings:
    """``[alerts]``: Graphite, runbook, repeat and flapping rules, the report's recipients."""
    table = check.table(value, "alerts")
    check.unknown_keys(table, ("alerts",), ALERT_KEYS)
    out: dict[str, Any] = {}
    for key in ("graphite_url", "graphite_link"):
        url = check.setting(
            table,
            ("alerts", key),
            is_str,
            "an http:// or https:// URL such as http://graphite.example.org",
            lambda v: bool(URL_RE.fullmatch(v)),
        )
        if url is not None:
            out[key] = url.rstrip("/")
    check.setting(
        table,
        ("alerts", "graphite_prefix"),
        is_str,
        "a Graphite path such as eventlogging",
        lambda v: bool(PREFIX.fullmatch(v)),
        into=out,
    )
    runbook = _runbook_url(check, table)
    if runbook is not None:
        out["runbook_url"] = runbook
    seconds: list[tuple[str, Callable[[float], bool], str]] = [
        ("repeat_interval", lambda v: v >= 0, "a number of seconds >= 0"),
        ("flap_window", lambda v: v > 0, "a positive number of seconds"),
        ("graph_hours", lambda v: 0 < v <= 24 * 90, "hours, 0 < h <= 2160"),
    ]
    for key, ok, what in seconds:
        found = check.setting(table, ("alerts", key), is_number, what, ok)
        if found is not None:
            out[key] = float(found)
    check.setting(
        table,
        ("alerts", "flap_changes"),
        is_int,
        "an integer >= 1 (state changes in flap_window before a service is flapping)",
        lambda v: v >= 1,
        into=out,
    )
    if "state_file" in table:
        state_file = check.file_name(table, ("alerts", "state_file"))
        if state_file is not None:
            out["state_file"] = state_file
    else:
        # Relative to the catalog, like every file it names.
        out["state_file"] = check.beside_catalog(AlertSettings.state_file)
    recipients = check.emails(table, ("alerts", "report_recipients"))
    out["report_recipients"] = recipients or ops
    return AlertSettings(**out)


def _runbook_url(check: Checker, table: dict) -> str | None:
    """``runbook_url`` when it is a URL whose placeholders notify can fill."""
    runbook = check.setting(
        table,
        ("alerts", "runbook_url"),
        is_str,
        "an http:// or https:// URL, optionally with {schema}, {service} or {host}",
        lambda v: bool(URL_RE.fullmatch(v)),
    )
    if runbook is None:
        return None
    unknown = _format_fields(runbook) - RUNBOOK_FIELDS
    if "" in unknown:
        check.problem(
            ("alerts", "runbook_url"),
            "a { or } that is not a placeholder; write {{ or }} for a literal brace",
        )
    elif unknown:
        check.problem(
            ("alerts", "runbook_url"),
            f"unknown placeholder {{{sorted(unknown)[0]}}}; "
            "use {schema}, {service} or {host}",
        )
    else:
        return runbook
    return None


def _format_fields(text: str) -> set[str]:
    """The ``{name}`` placeholders of a format string; ``{`` that is not one counts as ``""``."""
    try:
        return {name or "" for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {""}
