"""Which schemas caused a notification, read from its perfdata labels and its status line.

Privacy: the labels are taken from scrubbed text only, and a label that the scrubber would
change (it looks like a token, an address, ...) is never taken for a schema name.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from el_monitor.catalog.model import Catalog
from el_monitor.event.names import SCHEMA_NAME
from el_monitor.mail.redact import scrub
from el_monitor.notify.notification import Notification
from el_monitor.notify.perfdata import Perf

__all__ = ["GENERIC_LABELS", "culprits"]

# Perfdata labels the check plugins use for things other than a schema.
GENERIC_LABELS = frozenset(
    {
        "rate",
        "share",
        "overall",
        "other",
        "others",
        "ratio",
        "stalled",
        "valid",
        "invalid",
        "inserted",
        "spooled",
        "forwarders",
        "raw",
        "count",
        "total",
        "time",
        "errors",
        "sampled_out",
        "opted_out",
    }
)
_WORDS = re.compile(r"[A-Za-z0-9_-]+")


def culprits(
    notification: Notification,
    perf: Sequence[Perf],
    catalog: Catalog,
    known: Collection[str] = (),
) -> list[str]:
    """The schemas that caused the notification, in the order the status line names them.

    The rule, pragmatic rather than clever, and the same for every check plugin:

    1. candidates are perfdata labels shaped like a schema name (``[A-Za-z0-9_-]{1,63}``) that
       are not a generic metric (``rate``, ``share``, ``overall``, ``ratio``, ... see
       ``GENERIC_LABELS``), plus the schemas the catalog configures and ``known`` (the
       registry's) — and only names the privacy scrubber leaves as they are;
    2. the culprits are the candidates the status line names (``top: NavigationTiming 180/s``,
       ``NavigationTiming 243/s > 200``, ``EditAttemptStep 34% invalid``), in that order —
       a per-schema check reports every schema in its perfdata but names only the offenders;
    3. when the status line names none, the schema-labelled perfdata values outside their own
       warning/critical range;
    4. else none: the alert is about the service as a whole and goes to ops.
    """
    configured = set(catalog.schemas) | set(known)
    labelled = [
        p
        for p in perf
        if SCHEMA_NAME.fullmatch(p.label)
        and p.label.lower() not in GENERIC_LABELS
        and scrub(p.label) == p.label
    ]
    candidates = {p.label for p in labelled} | {name for name in configured if scrub(name) == name}
    named = [
        word for word in _WORDS.findall(status_line(notification.output)) if word in candidates
    ]
    if named:
        return list(dict.fromkeys(named))
    return list(dict.fromkeys(p.label for p in labelled if p.crossed()))


def status_line(output: str) -> str:
    """The first line of a plugin's output without its perfdata and ``NAME STATE -`` prefix."""
    lines = output.split("|", 1)[0].splitlines()  # none when the output starts with "|"
    status = lines[0] if lines else ""
    return status.split(" - ", 1)[1] if " - " in status else status
