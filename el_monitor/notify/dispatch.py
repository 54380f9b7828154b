"""``el-monitor notify``'s whole run: one Icinga notification in, mails to the schemas' owners out.

The flow, each step its own module so tests can hold any of them:

1. a :class:`~el_monitor.notify.notification.Notification` from the flags or ``EL_NOTIFY_*``;
2. :func:`~el_monitor.notify.culprits.culprits`: the schemas that caused it;
3. :func:`~el_monitor.notify.state.decide`: mail now, hold back (repeat interval), or summarise
   (flapping), with a clock the caller controls;
4. :func:`~el_monitor.notify.routing.route`: one group per distinct set of owners, unowned
   schemas to ops;
5. one render query for every schema mailed (``fetch``), then per group the content built once
   (``wording``, with its ``graph``) and rendered as text and HTML (``render``);
6. the mails handed to SMTP; only what really went out is recorded in the state file.

Privacy: the plugin output and perfdata are scrubbed before anything is derived from them (see
``culprits`` and ``wording``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from el_monitor.catalog.model import Catalog
from el_monitor.errors import UserError
from el_monitor.mail import smtp
from el_monitor.mail.settings import SmtpSettings
from el_monitor.notify.culprits import culprits
from el_monitor.notify.fetch import fetch
from el_monitor.notify.notification import ACKNOWLEDGEMENT, FLAPPING, RECOVERY, Notification
from el_monitor.notify.perfdata import parse_perfdata
from el_monitor.notify.render import AlertTemplates, render_message
from el_monitor.notify.routing import route
from el_monitor.notify.state import (
    State,
    StateError,
    StateFile,
    decide,
    problem_schemas,
    record_sent,
    service_key,
)
from el_monitor.notify.wording import AlertFacts, alert_content

__all__ = ["NotifyResult", "Sender", "known_schemas", "notify"]

log = logging.getLogger(__name__)

NO_STATE_NOTE = "Repeats are not suppressed: el-monitor cannot use its state file."

# How a batch of messages is handed off: ``el_monitor.mail.smtp.send`` unless a test says.
Sender = Callable[[SmtpSettings, list[EmailMessage]], None]


@dataclass(frozen=True)
class NotifyResult:
    """What ``notify`` did: the messages (sent unless a dry run), what was held back and why,
    schemas nobody could be mailed about, the first sending failure (after recording what
    did go out), and why the state file could not be used, if it could not."""

    messages: tuple[EmailMessage, ...]
    held: tuple[str, ...]
    reason: str
    unrouted: tuple[str, ...] = ()
    graph_note: str | None = None
    failure: UserError | None = None
    state_problems: Sequence[str] = ()


def notify(
    notification: Notification,
    catalog: Catalog,
    *,
    ops: Sequence[str] = (),
    known: Collection[str] = (),
    clock: Callable[[], float] = time.time,
    dry_run: bool = False,
    sender: Sender | None = None,
    notes: Sequence[str] = (),
) -> NotifyResult:
    """Decide, build and send the mails for one notification (see the module docstring).

    ``sender(smtp_settings, [message])`` defaults to ``el_monitor.mail.smtp.send``.  A dry
    run builds the messages but neither sends them nor writes the state file.  A failure to
    send is returned in ``failure`` (the CLI turns it into one line and a non-zero exit)
    after the mails that did go out have been recorded.
    """
    send = sender or smtp.send
    alerts = catalog.alerts
    now = clock()
    perf = parse_perfdata(notification.perfdata)
    key = service_key(notification.host, notification.service)
    trouble: list[str] = []  # filled until the state is saved, so shared with the result
    with _state(StateFile(alerts.state_file), dry_run, trouble) as data:
        schemas = culprits(notification, perf, catalog, known)
        remembered = problem_schemas(data, key)
        if notification.type == RECOVERY:
            # An OK line names no culprit (its "top:" or "highest:" are not to blame): tell
            # whoever was told of the problem, or ops when nothing is remembered.
            schemas = remembered
        elif notification.type == ACKNOWLEDGEMENT and not schemas:
            schemas = remembered
        decision = decide(
            data,
            key,
            notification.type,
            notification.state,
            schemas,
            now,
            repeat_interval=alerts.repeat_interval,
            flap_changes=alerts.flap_changes,
            flap_window=alerts.flap_window,
        )
        if not decision.send:
            return NotifyResult((), decision.held, decision.reason, state_problems=trouble)
        groups, unrouted = route(decision.send, catalog, ops)
        kind = FLAPPING if decision.flapping is not None else notification.type
        templates = AlertTemplates()
        fetched = fetch(notification, [s for g in groups for s in g.schemas], perf, catalog)
        facts = AlertFacts(
            notification,
            kind,
            decision,
            perf,
            fetched,
            now,
            [*notes, NO_STATE_NOTE] if trouble else notes,
        )
        messages = [
            render_message(templates, alert_content(facts, group, catalog), catalog.smtp.sender())
            for group in groups
        ]
        sent: list[str] = []
        failure: UserError | None = None
        if not dry_run:
            for group, message in zip(groups, messages, strict=True):
                try:
                    send(catalog.smtp, [message])
                except UserError as exc:
                    failure = exc
                    break
                sent.extend(group.schemas)
            record_sent(data, key, decision, notification.type, notification.state, sent, now)
    return NotifyResult(
        tuple(messages),
        decision.held,
        decision.reason,
        tuple(unrouted),
        fetched.problem,
        failure,
        trouble,
    )


@contextlib.contextmanager
def _state(store: StateFile, dry_run: bool, trouble: list[str]) -> Iterator[State]:
    """The state under its lock, saved afterwards (not in a dry run).

    A state file that cannot be read, locked or written must not stop the alert: the mail
    goes out without repeat suppression, and the problem is noted in ``trouble``.
    """
    if dry_run:
        try:
            data = store.load()
        except StateError as exc:
            trouble.append(str(exc))
            data = {}
        yield data
        return
    try:
        holder = store.locked()
        data = holder.__enter__()
    except StateError as exc:
        log.warning("%s", exc)
        trouble.append(str(exc))
        yield {}
        return
    try:
        yield data
    except BaseException:
        holder.__exit__(*sys.exc_info())  # releases the lock without saving
        raise
    try:
        holder.__exit__(None, None, None)
    except StateError as exc:
        log.warning("%s", exc)
        trouble.append(str(exc))


def known_schemas(source: str | None, cache: str) -> frozenset[str]:
    """Schema names the registry lists (for an HTTP repository: those cached so far)."""
    if not source:
        return frozenset()
    from el_monitor.schema.registry import open_registry

    registry = open_registry(source, cache)
    return frozenset(name for name, _ in registry.revisions())
