"""``el-monitor notify``: turn one Icinga notification into mails to the schemas' owners.

The flow, each step a small function so tests can hold any of them:

1. :class:`Notification` from the command line or ``EL_NOTIFY_*`` (what Icinga passes);
2. :func:`culprits`: which schemas caused it, from the perfdata labels and the status line;
3. :func:`el_monitor.notify.state.decide`: mail now, hold back (repeat interval), or summarise
   (flapping), with a clock the caller controls;
4. :func:`route`: one group per distinct set of owners, unowned schemas to ops;
5. one render query for every schema mailed, then per group a graph (matplotlib), and the
   content built once as structured sections (:class:`AlertContent`) that two Jinja2
   templates render, ``alert.txt.j2`` and ``alert.html.j2`` (autoescaped);
6. the mails handed to SMTP; only what really went out is recorded in the state file.

As in nagios-herald, the graph is an ornament: a Graphite that is down, slow or empty, or a
matplotlib that fails, costs the mail its picture and adds a line saying so with the link,
never the mail itself.

Privacy: the plugin output and perfdata are scrubbed (``redact.scrub``: IP addresses, tokens,
user agents, named user ids) before anything is derived from them, and a perfdata label that
the scrubber would change is never taken for a schema name.  Links and addresses come from
the configuration, which is trusted.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from el_monitor.catalog.model import Catalog
from el_monitor.errors import UserError
from el_monitor.event.names import SCHEMA_NAME
from el_monitor.graphite import names as metric_names
from el_monitor.graphite.names import OVERALL
from el_monitor.mail.redact import safe_text, scrub
from el_monitor.notify.content import (
    ACTIONS,
    DEFAULT_ACTIONS,
    AlertContent,
    GraphSection,
    Link,
    SchemaLine,
    render_message,
    template_environment,
)
from el_monitor.notify.perfdata import Perf, parse_perfdata
from el_monitor.notify.state import (
    RECOVERY,
    SERVICE_LEVEL,
    Decision,
    StateError,
    StateFile,
    decide,
    problem_schemas,
    record_sent,
    service_key,
)

if TYPE_CHECKING:
    from el_monitor.graphite.render import Series

__all__ = [
    "ENV",
    "GENERIC_LABELS",
    "AlertContent",
    "Notification",
    "NotifyResult",
    "Perf",
    "culprits",
    "notify",
    "parse_perfdata",
    "route",
]

log = logging.getLogger(__name__)

FIELDS = ("type", "host", "service", "state", "output", "perfdata", "time")
ENV = MappingProxyType({name: f"EL_NOTIFY_{name.upper()}" for name in FIELDS})
PROBLEM, ACKNOWLEDGEMENT, FLAPPING = "PROBLEM", "ACKNOWLEDGEMENT", "FLAPPING"
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
GRAPH_TIMEOUT = 5.0  # seconds for the render query: a slow Graphite must not delay the alert
MIN_WINDOW = 600  # an alert window shorter than this is drawn as the last 10 minutes
SUBJECT_SCHEMAS = 4  # schema names in a subject before "+N more"
MEASUREMENTS = 12  # perfdata values shown in a mail
STATE_COLOURS = MappingProxyType(
    {
        "CRITICAL": "#c62828",
        "WARNING": "#ef6c00",
        "UNKNOWN": "#6a1b9a",
        "OK": "#2e7d32",
        ACKNOWLEDGEMENT: "#1565c0",
        FLAPPING: "#ef6c00",
    }
)


# --- the notification ------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """What Icinga says happened.  ``type`` and ``state`` are upper-case words."""

    type: str
    host: str
    service: str
    state: str
    output: str = ""
    perfdata: str = ""
    time: float | None = None

    @classmethod
    def from_sources(
        cls, given: Mapping[str, object | None], env: Mapping[str, str]
    ) -> Notification:
        """Each field from ``given`` (the flags) if set, else from ``EL_NOTIFY_<FIELD>``."""
        values: dict[str, str] = {}
        for name in FIELDS:
            value = given.get(name)
            if value is None:
                value = env.get(ENV[name])
            values[name] = "" if value is None else str(value)
        for name in ("type", "service", "state"):
            if not values[name].strip():
                raise UserError(
                    f"no notification {name}: give --{name} or set {ENV[name]} "
                    "(the NotificationCommand in icinga/notifications.conf sets both)"
                )
        kind = values["type"].strip().upper()
        state = values["state"].strip().upper()
        for name, word in (("type", kind), ("state", state)):
            if not re.fullmatch(r"[A-Z][A-Z_]{0,31}", word):
                raise UserError(f"--{name} {values[name]!r} is not a word such as PROBLEM or OK")
        stamp = None
        if values["time"].strip():
            try:
                stamp = float(values["time"])
            except ValueError:
                stamp = math.nan
            if not math.isfinite(stamp) or stamp < 0:
                raise UserError(f"--time {values['time']!r} is not a Unix time in seconds")
        return cls(
            type=kind,
            host=values["host"].strip() or "-",
            service=values["service"].strip(),
            state=state,
            output=values["output"],
            perfdata=values["perfdata"],
            time=stamp,
        )


# --- culprits -------------------------------------------------------------------------------


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
    status = notification.output.split("|", 1)[0].splitlines()[0] if notification.output else ""
    status = status.split(" - ", 1)[1] if " - " in status else status
    named = [w for w in re.findall(r"[A-Za-z0-9_-]+", status) if w in candidates]
    if named:
        return list(dict.fromkeys(named))
    return list(dict.fromkeys(p.label for p in labelled if p.crossed()))


# --- routing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One mail: its recipients, the schemas it covers, and which of them have no owner (and
    so reach these recipients as ops)."""

    recipients: tuple[str, ...]
    schemas: tuple[str, ...]
    unowned: tuple[str, ...] = ()


def route(
    schemas: Sequence[str], catalog: Catalog, ops: Sequence[str] = ()
) -> tuple[list[Group], list[str]]:
    """One group per distinct set of recipients (schemas kept in order), and the schemas
    nobody can be mailed about.

    A schema without owners, and a service-level alert (``*``), goes to ``ops`` (the flag)
    or else the catalog's ``ops``.  Owners who are also ops get one mail, not two.
    """
    fallback = tuple(ops) or catalog.ops
    groups: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
    unrouted: list[str] = []
    for schema in dict.fromkeys(schemas):
        owners = () if schema == SERVICE_LEVEL else catalog.policy(schema).owners
        unowned = not owners
        if unowned:
            owners = fallback
        if not owners:
            unrouted.append(schema)
            continue
        key = tuple(sorted(set(owners), key=str.lower))
        names, orphans = groups.setdefault(key, ([], []))
        names.append(schema)
        if unowned:
            orphans.append(schema)
    out = [Group(key, tuple(names), tuple(orphans)) for key, (names, orphans) in groups.items()]
    return out, unrouted


def _actions(kind: str, service: str, settled: bool) -> tuple[str, ...]:
    if kind == RECOVERY:
        return (
            "Nothing to do: the check is OK again. Follow up on the cause if it is not "
            "understood yet.",
        )
    if kind == ACKNOWLEDGEMENT:
        return (
            "Someone acknowledged the problem in Icinga and is working on it; reminders "
            "stop until it recovers.",
        )
    if kind == FLAPPING:
        return (
            "The service keeps changing state: mails are held back until it settles. "
            "Look at the graph for a value hovering around the threshold.",
        )
    lowered = service.lower()
    for keyword, actions in ACTIONS:
        if keyword in lowered:
            return actions
    return DEFAULT_ACTIONS


def _measure(service: str) -> tuple[str, str]:
    """Which counter to graph for a service, and its unit."""
    lowered = service.lower()
    if "invalid" in lowered:
        return "invalid", "invalid events/s"
    if "inserted" in lowered:
        return "inserted", "inserted events/s"
    return "raw", "events/s"


def _target(prefix: str, scope: str, measure: str) -> str:
    """A schema's (or ``overall``) rate summed over forwarders, labelled by its name."""
    target = metric_names.sum_series(prefix, metric_names.scope_node(scope), measure)
    return metric_names.aliased(target, scope)


def _graphite_link(base: str | None, targets: Sequence[str], hours: float) -> str | None:
    if not base or not targets:
        return None
    query = [("target", t) for t in targets]
    query += [("from", _from(hours)), ("width", "800"), ("height", "300")]
    return f"{base}/render?{urlencode(query)}"


def _from(hours: float) -> str:
    minutes = max(1, round(hours * 60))
    return f"-{minutes // 60}h" if minutes % 60 == 0 else f"-{minutes}min"


def _runbook(template: str | None, schema: str | None, service: str, host: str) -> str | None:
    if not template:
        return None
    if schema is None and "{schema}" in template:
        return None
    return template.format(
        schema=quote(schema or "", safe=""),
        service=quote(service, safe=""),
        host=quote(host, safe=""),
    )


def _utc(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _subject(kind: str, state: str, service: str, host: str, schemas: Sequence[str]) -> str:
    names = [s for s in schemas if s != SERVICE_LEVEL]
    head = (
        f"[el-monitor] {kind}: {service}"
        if kind == FLAPPING
        else (f"[el-monitor] {kind}: {state} {service}")
    )
    if not names:
        return f"{head} on {host}"
    shown = ", ".join(names[:SUBJECT_SCHEMAS])
    more = f" +{len(names) - SUBJECT_SCHEMAS} more" if len(names) > SUBJECT_SCHEMAS else ""
    return f"{head} — {shown}{more}"


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} hours"
    minutes = round(seconds / 60)
    return f"{minutes} minutes"


# --- the whole thing -------------------------------------------------------------------------


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


Sender = Callable[..., None]


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
    from el_monitor.mail import smtp as mail

    send = sender or mail.send
    alerts = catalog.alerts
    now = clock()
    perf = parse_perfdata(notification.perfdata)
    key = service_key(notification.host, notification.service)
    store = StateFile(alerts.state_file)
    trouble: list[str] = []
    with _state(store, dry_run, trouble) as data:
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
        env = template_environment()
        fetched = _fetch(notification, [s for g in groups for s in g.schemas], perf, catalog)
        messages = []
        if trouble:
            notes = [*notes, "Repeats are not suppressed: el-monitor cannot use its state file."]
        for group in groups:
            content = _content(
                notification, kind, decision, group, perf, catalog, fetched, now, notes
            )
            messages.append(render_message(env, content, catalog))
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
def _state(store: StateFile, dry_run: bool, trouble: list[str]) -> Iterator[dict]:
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


@dataclass(frozen=True)
class _Fetched:
    """The render answer for every schema mailed (one query), or why there is none."""

    series: Mapping[str, Series]
    threshold: float | None
    measure: str
    unit: str
    overall: bool
    problem: str | None


def _fetch(
    notification: Notification, schemas: Sequence[str], perf: Sequence[Perf], catalog: Catalog
) -> _Fetched:
    """One render query: each schema's summed rate, plus the overall rate when the check judged
    the whole (its perfdata has a generic ``rate``) or no schema is named."""
    alerts = catalog.alerts
    measure, unit = _measure(notification.service)
    names = [s for s in dict.fromkeys(schemas) if s != SERVICE_LEVEL]
    by_label = {p.label: p for p in perf}
    rate = by_label.get("rate")
    overall = not names or (rate is not None and rate.limit() is not None)
    threshold = _threshold(names, by_label, catalog, measure, overall)
    if not alerts.graphite_url:
        problem = "no Graphite is configured ([alerts] graphite_url or --graphite)"
        return _Fetched({}, threshold, measure, unit, overall, problem)
    from el_monitor.graphite.render import RenderClient, RenderError

    targets = [_target(alerts.graphite_prefix, s, measure) for s in names]
    if overall:
        targets.append(_target(alerts.graphite_prefix, OVERALL, measure))
    try:
        with RenderClient(alerts.graphite_url, timeout=GRAPH_TIMEOUT) as client:
            series = client.render(targets, from_=_from(alerts.graph_hours), until="now")
    except RenderError as exc:
        problem = f"Graphite did not answer the graph query ({exc.problem})"
        return _Fetched({}, threshold, measure, unit, overall, scrub(problem))
    except ValueError as exc:  # a malformed URL given by flag
        return _Fetched({}, threshold, measure, unit, overall, scrub(str(exc)))
    found = {s.target: s for s in series}
    problem = None if any(s.values() for s in series) else "Graphite has no data for it"
    return _Fetched(found, threshold, measure, unit, overall, problem)


def _threshold(
    names: Sequence[str],
    by_label: Mapping[str, Perf],
    catalog: Catalog,
    measure: str,
    overall: bool,
) -> float | None:
    """The line to draw: the overall ``rate`` limit when the whole is graphed, else the lowest
    of the schemas' own limits from their perfdata, else (rates) the catalog's ``max_rate``.
    A limit in % (an invalid share) is not drawn on a graph of events/s."""
    rate = by_label.get("rate")
    if overall and rate is not None and rate.uom != "%":
        return rate.limit()
    limits = [
        limit
        for name in names
        if (p := by_label.get(name)) is not None
        and p.uom != "%"
        and (limit := p.limit()) is not None
    ]
    if limits:
        return min(limits)
    if measure == "raw" and names:
        return min(catalog.policy(name).max_rate for name in names)
    return None


def _content(
    notification: Notification,
    kind: str,
    decision: Decision,
    group: Group,
    perf: Sequence[Perf],
    catalog: Catalog,
    fetched: _Fetched,
    now: float,
    notes: Sequence[str],
) -> AlertContent:
    from el_monitor.mail import smtp as mail

    alerts = catalog.alerts
    host = safe_text(notification.host, 100)
    service = safe_text(notification.service, 100)
    state = notification.state
    names = [s for s in group.schemas if s != SERVICE_LEVEL]
    by_label = {p.label: p for p in perf}
    hours = alerts.graph_hours
    prefix = alerts.graphite_prefix
    unit = "/s" if fetched.measure == "raw" else ""  # the rate plugins' perfdata has no uom
    lines = []
    for name in names:
        measured = by_label.get(name)
        policy = catalog.policy(name)
        target = _target(prefix, name, fetched.measure)
        lines.append(
            SchemaLine(
                name=name,
                owners=policy.owners,
                measured=safe_text(measured.shown(unit), 120) if measured else "",
                limit=f"max_rate {policy.max_rate:g}/s" if fetched.measure == "raw" else "",
                graph=_graphite_link(alerts.link_base, [target], hours),
                runbook=_runbook(alerts.runbook_url, name, notification.service, notification.host),
            )
        )
    targets = [_target(prefix, n, fetched.measure) for n in names]
    if fetched.overall:
        targets.append(_target(prefix, OVERALL, fetched.measure))
    link = _graphite_link(alerts.link_base, targets, hours)
    graph = _graph(notification, kind, decision, names, fetched, link, now)
    links = []  # the Graphite link is the graph section's; these are the rest
    runbook = _runbook(alerts.runbook_url, None, notification.service, notification.host)
    if runbook:
        links.append(Link(f"Runbook for {service}", runbook))
    elif len(lines) == 1 and lines[0].runbook:
        links.append(Link(f"Runbook for {names[0]}", lines[0].runbook))
    shown = [p for p in perf if p.label in names] + [p for p in perf if p.label not in names]
    measurements = tuple(
        (safe_text(p.label, 63), safe_text(p.shown(unit), 120)) for p in shown[:MEASUREMENTS]
    )
    if kind == FLAPPING:
        headline = (
            f"{service} is flapping: {decision.flapping} changes in the last "
            f"{_duration(alerts.flap_window)}"
        )
    elif decision.settled:
        headline = f"{service} stopped flapping and is {state} on {host}"
    elif kind == RECOVERY:
        headline = f"{service} has recovered: {state} on {host}"
    elif kind == ACKNOWLEDGEMENT:
        headline = f"{service} ({state} on {host}) was acknowledged"
    else:
        headline = f"{service} is {state} on {host}"
    extra = list(notes)
    if decision.settled:
        extra.append("The flapping has stopped; this is where the service ended up.")
    if decision.held:
        extra.append(
            "Not repeated (mailed within the repeat interval): "
            + ", ".join(safe_text(s, 63) for s in decision.held if s != SERVICE_LEVEL)
        )
    owned = [n for n in names if n not in group.unowned]
    orphans = [n for n in group.unowned if n != SERVICE_LEVEL]
    reasons = []
    if owned:
        reasons.append(f"You get this as the owners of {', '.join(owned)} in the catalog.")
    if orphans:
        reasons.append(
            f"You get this as ops: no owner is set for {', '.join(orphans)} in the catalog "
            "(add owners = [...] to its [schema.<Name>] table)."
        )
    if not names:
        reasons.append("You get this as ops: the alert names no schema.")
    why = " ".join(reasons)
    repeat = alerts.repeat_interval
    if kind == PROBLEM and repeat:
        why += f" The same state is mailed again at most every {_duration(repeat)}."
    when = notification.time if notification.time is not None else now
    colour = STATE_COLOURS.get(kind) or STATE_COLOURS.get(state, "#455a64")
    return AlertContent(
        kind=kind,
        subject=safe_text(_subject(kind, state, service, host, names), 300),
        headline=headline,
        colour=colour,
        summary=safe_text(notification.output.split("|", 1)[0], 1000),
        host=host,
        service=service,
        state=state,
        when=_utc(when),
        schemas=tuple(lines),
        graph=graph if graph.png is None else _with_cid(graph, mail.new_cid("graph")),
        actions=_actions(kind, notification.service, decision.settled),
        links=tuple(links),
        measurements=measurements,
        recipients=group.recipients,
        why=why,
        notes=tuple(extra),
    )


def _with_cid(graph: GraphSection, cid: str) -> GraphSection:
    return GraphSection(graph.title, cid, graph.png, graph.note, graph.link)


def _graph(
    notification: Notification,
    kind: str,
    decision: Decision,
    names: Sequence[str],
    fetched: _Fetched,
    link: str | None,
    now: float,
) -> GraphSection:
    """The group's graph, or a note saying why not.  Never raises."""
    from el_monitor.notify.graph import GraphError, rate_graph

    title = safe_text(f"{notification.service}: {fetched.unit}", 120)
    if fetched.problem:
        return GraphSection(title, note=f"No graph: {fetched.problem}.", link=link)
    wanted = [*names, *(["overall"] if fetched.overall else [])]
    series = [fetched.series[n] for n in wanted if n in fetched.series]
    window = (int(min(decision.since, now - MIN_WINDOW)), int(now))
    try:
        png = rate_graph(series, fetched.threshold, window, title, unit=fetched.unit)
    except GraphError as exc:
        return GraphSection(title, note=f"No graph: {safe_text(str(exc), 200)}.", link=link)
    except Exception as exc:  # a graph must never stop an alert
        log.warning("graph failed", exc_info=True)
        return GraphSection(
            title, note=f"No graph: {type(exc).__name__} while drawing it.", link=link
        )
    return GraphSection(title, png=png, link=link)


def known_schemas(source: str | None, cache: str) -> frozenset[str]:
    """Schema names the registry lists (for an HTTP repository: those cached so far)."""
    if not source:
        return frozenset()
    from el_monitor.schema.registry import open_registry

    registry = open_registry(source, cache)
    return frozenset(name for name, _ in registry.revisions())
