"""How el-monitor mails: where mail is handed off (``[smtp]``) and the alert rules (``[alerts]``).

``el-monitor notify`` and the daily report share these values, so they live with the mail code
rather than in the catalog.  The catalog loader validates the two tables of the catalog file and
builds these values (``el_monitor.catalog.mail_settings``), so every problem of the file is still
reported as FILE:LINE in one place.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

__all__ = ["RUNBOOK_FIELDS", "SMTP_SECURITY", "AlertSettings", "SmtpSettings"]

SMTP_SECURITY = ("none", "starttls", "tls")
# The placeholders ``runbook_url`` may name; notify fills them per alert.
RUNBOOK_FIELDS = frozenset({"schema", "service", "host"})


@dataclass(frozen=True)
class SmtpSettings:
    """Where alert and report mail is handed off (``[smtp]``).

    ``security`` is ``none`` (plain SMTP), ``starttls`` (upgrade after EHLO) or ``tls``
    (implicit TLS, usually port 465).  The password is never in the catalog itself: it comes
    from ``password_file`` or ``$EL_MONITOR_SMTP_PASSWORD`` (see ``el_monitor.mail.smtp``).
    ``mail_from`` None means ``el-monitor@<fqdn>``, resolved only when a mail is built, so
    loading a catalog never waits on DNS.
    """

    host: str = "localhost"
    port: int = 25
    security: str = "none"
    user: str | None = None
    password_file: str | None = None
    mail_from: str | None = None
    timeout: float = 10.0

    def sender(self) -> str:
        """``mail_from``, or ``el-monitor@<this host's fqdn>``."""
        return self.mail_from or f"el-monitor@{socket.getfqdn()}"


@dataclass(frozen=True)
class AlertSettings:
    """How ``el-monitor notify`` and the daily report behave (``[alerts]``).

    ``graphite_url`` is the render API el-monitor reads; ``graphite_link`` the base of the links
    people click in a mail (a public name for the same graphite-web, say), defaulting to
    ``graphite_url``.  ``runbook_url`` may name ``{schema}``, ``{service}`` and ``{host}``.
    Intervals are seconds.  ``report_recipients`` empty means the catalog's ``ops``.
    """

    graphite_url: str | None = None
    graphite_link: str | None = None
    graphite_prefix: str = "eventlogging"
    runbook_url: str | None = None
    repeat_interval: float = 14400.0
    flap_changes: int = 5
    flap_window: float = 3600.0
    state_file: str = "el-monitor-notify.state.json"
    graph_hours: float = 6.0
    report_recipients: tuple[str, ...] = ()

    @property
    def link_base(self) -> str | None:
        """The Graphite base URL for links in mails."""
        return self.graphite_link or self.graphite_url
