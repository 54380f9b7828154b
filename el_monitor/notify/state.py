"""What ``el-monitor notify`` remembers between runs: who was told what, and when.

Icinga runs ``notify`` as a fresh process per notification and re-notifies every 30 minutes
while a problem lasts, so without memory owners would get a mail each time and a service that
flaps would mail at every change.  The memory is one small JSON file, per ``host!service``:

* ``state`` / ``since``: the last state notified and when it began (the graph's alert window);
* ``changes``: when the state changed, within the last ``flap_window`` seconds;
* ``schemas``: the schemas of the current problem, so the RECOVERY reaches the same owners
  even though an OK status line names no culprit;
* ``sent``: per schema (``*`` for a service-level alert), the state last mailed and when;
* ``flap_mailed``: when the flapping summary went out, while the service is flapping.

The rules (:func:`decide`):

1. a PROBLEM mails a schema unless the same state was mailed for it less than
   ``repeat_interval`` ago; a new state always mails;
2. a RECOVERY always mails (no repeat rule); ACKNOWLEDGEMENT and other types always mail;
3. more than ``flap_changes`` state changes within ``flap_window``: the service is flapping;
   one summary mail goes out instead (again at most once per ``repeat_interval``), and every
   other notification is held back until it settles;
4. when it settles, the next notification mails whatever its state, with no repeat rule, so
   owners learn where it ended up.

Decisions are pure functions of the loaded state, the notification and ``now``, so tests
drive them with a controlled clock; :class:`StateFile` only loads, locks and saves atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from el_monitor.atomic import write_atomically
from el_monitor.errors import UserError
from el_monitor.notify.notification import PROBLEM, RECOVERY, SERVICE_LEVEL

log = logging.getLogger(__name__)

__all__ = [
    "Decision",
    "State",
    "StateError",
    "StateFile",
    "decide",
    "problem_schemas",
    "record_sent",
    "service_key",
]

VERSION = 1
STATE_TYPES = frozenset({PROBLEM, RECOVERY})  # the types that say what state the service is in


@dataclass(frozen=True)
class Decision:
    """What to mail for one notification.

    ``send``: the schemas (or ``*``) to mail about, as a normal alert; ``held``: those held
    back and why (``reason``).  ``flapping`` is the number of changes in the window when a
    flapping summary is to go out instead, covering ``send``.  ``settled`` marks the first
    mail after flapping stopped.  ``since`` is when the current state began (for a RECOVERY,
    when the problem it ends began): the start of the graph's shaded window.
    """

    send: tuple[str, ...]
    held: tuple[str, ...]
    reason: str
    since: float
    flapping: int | None = None
    settled: bool = False


# The file's JSON document as loaded: ``{"version": 1, "services": {key: entry}}``.  Its values
# are whatever the file holds, so every read below checks the type it needs.
State = dict[str, Any]


def _entry(data: State, key: str) -> dict[str, Any]:
    services = data.setdefault("services", {})
    entry = services.get(key)
    if not isinstance(entry, dict):
        entry = services[key] = {}
    entry.setdefault("changes", [])
    entry.setdefault("schemas", [])
    entry.setdefault("sent", {})
    return entry


def service_key(host: str, service: str) -> str:
    """Icinga's own name for a service: ``host!service``."""
    return f"{host}!{service}"


def problem_schemas(data: State, key: str) -> list[str]:
    """The schemas of the service's current (or last) problem, as remembered."""
    entry = data.get("services", {}).get(key)
    schemas = entry.get("schemas") if isinstance(entry, dict) else None
    return [s for s in schemas if isinstance(s, str)] if isinstance(schemas, list) else []


def decide(
    data: State,
    key: str,
    kind: str,
    state: str,
    schemas: Sequence[str],
    now: float,
    *,
    repeat_interval: float,
    flap_changes: int,
    flap_window: float,
) -> Decision:
    """Apply the rules of the module docstring; updates ``data`` (state, changes, schemas)
    but not ``sent``, which :func:`record_sent` updates once the mail is really gone."""
    entry = _entry(data, key)
    targets = tuple(dict.fromkeys(schemas)) or (SERVICE_LEVEL,)
    began = entry.get("since")
    if kind in STATE_TYPES:
        if entry.get("state") != state:
            entry["changes"].append(now)
            entry["state"] = state
            entry["since"] = now
        else:
            began = None
        if kind == PROBLEM:
            # The problem's schemas accumulate while it lasts; a recovery reaches them all.
            entry["schemas"] = list(dict.fromkeys([*entry["schemas"], *schemas]))
    entry["changes"] = [t for t in entry["changes"] if _number(t) and now - t < flap_window]
    start = entry.get("since")
    since = float(start) if _number(start) and start else now
    if kind == RECOVERY and _number(began):
        since = float(began)  # a recovery's window is the problem it ends
    _prune(entry, now, repeat_interval)
    changes = len(entry["changes"])

    if changes > flap_changes:
        # Every schema of the flapping problem is covered by the summary.
        covered = tuple(dict.fromkeys([*entry["schemas"], *schemas])) or (SERVICE_LEVEL,)
        mailed = entry.get("flap_mailed")
        if _number(mailed) and now - mailed < repeat_interval:
            return Decision(
                (), covered, f"flapping ({changes} changes): summary already sent", since
            )
        return Decision(covered, (), "flapping", since, flapping=changes)

    settled = _number(entry.get("flap_mailed"))
    if settled:
        entry.pop("flap_mailed", None)
        return Decision(targets, (), "flapping stopped", since, settled=True)
    if kind != PROBLEM:
        return Decision(targets, (), "always sent", since)
    send, held = [], []
    for schema in targets:
        last = entry["sent"].get(schema)
        if (
            isinstance(last, dict)
            and last.get("state") == state
            and _number(last.get("at"))
            and now - last["at"] < repeat_interval
        ):
            held.append(schema)
        else:
            send.append(schema)
    reason = f"{state} already mailed within the repeat interval" if held else "new"
    return Decision(tuple(send), tuple(held), reason, since)


def record_sent(
    data: State,
    key: str,
    decision: Decision,
    kind: str,
    state: str,
    sent: Sequence[str],
    now: float,
) -> None:
    """Note that mails about ``sent`` went out (only those: a failed group is retried)."""
    entry = _entry(data, key)
    if decision.flapping is not None:
        if sent:
            entry["flap_mailed"] = now
        return
    if kind in STATE_TYPES:
        for schema in sent:
            entry["sent"][schema] = {"state": state, "at": now}
    if kind == RECOVERY and sent:
        entry["schemas"] = []


def _prune(entry: dict[str, Any], now: float, repeat_interval: float) -> None:
    """Forget mails that no longer hold anything back, so the file stays small."""
    entry["sent"] = {
        schema: last
        for schema, last in entry["sent"].items()
        if isinstance(last, dict) and _number(last.get("at")) and now - last["at"] < repeat_interval
    }


def _number(value: object) -> TypeGuard[int | float]:
    """A JSON number (``true`` is not one), as the file's times and counts must be."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class StateFile:
    """The JSON state file: locked for the whole notification, replaced atomically.

    Icinga may run several notifications at once; the lock (``flock`` on ``<file>.lock``)
    serialises them so that none overwrites another's record.  A missing file is an empty
    state; an unreadable or corrupt one is logged and replaced rather than blocking alerts.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[State]:
        """The state, under the lock; saved when the body ends without an exception."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(lock_path, "a")  # noqa: SIM115 - held across the yield
        except OSError as exc:
            raise StateError(self.path, f"cannot create {lock_path}: {exc.strerror}") from None
        with lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            data = self.load()
            yield data
            self.save(data)

    def load(self) -> State:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": VERSION, "services": {}}
        except OSError as exc:
            raise StateError(self.path, f"cannot read: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
            log.warning("notify state %s is corrupt; starting afresh", self.path)
            return {"version": VERSION, "services": {}}
        return data

    def save(self, data: State) -> None:
        data["version"] = VERSION
        text = json.dumps(data, indent=1, sort_keys=True)
        try:
            write_atomically(self.path, text.encode())
        except OSError as exc:
            raise StateError(self.path, f"cannot write: {exc.strerror}") from None


class StateError(UserError):
    """The state file cannot be used; ``str()`` names it and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"notify state file {path}: {problem}; check [alerts] state_file")
        self.path = path
