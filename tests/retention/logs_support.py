"""Event logs of several days as a forwarder writes them (``EventLogs``), each record carrying
values retention must not leave behind, and the rules and hasher the log tests apply."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import urllib.parse
from pathlib import Path

import orjson

from el_monitor.errors import EventError
from el_monitor.ingest.event_logs import EventLogs
from el_monitor.retention.records import SchemaRules, Stage

NOW = datetime.datetime(2026, 12, 1, 12, 30, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
IP = "198.51.100.77"
SHORTEST = 30  # SearchSatisfaction's retention: the shortest


def rules_at(now: datetime.datetime) -> dict[str, SchemaRules]:
    """The test policy as of ``now`` (schemas not named: the default, deleted after 90 days)."""
    c30, c90, c180 = (now - days * DAY for days in (30, 90, 180))
    return {
        "EditAttemptStep": SchemaRules(
            (Stage(c90, keep=("action", "platform", "webHost"), hash=("editing_session_id",)),)
        ),
        "SearchSatisfaction": SchemaRules((Stage(c30),)),  # no keep: removed
        "Nested": SchemaRules(
            (Stage(c90, keep=("performer.edit_count",), hash=("performer.token",)),)
        ),
        # an extension keeping page_id 180 days: sanitized twice
        "Extended": SchemaRules(
            (Stage(c90, keep=("action", "page_id")), Stage(c180, keep=("action",)))
        ),
    }


def hasher(value: str, when: datetime.datetime) -> str:
    """A salt per quarter of the record's moment, as the real hasher rotates one."""
    salt = f"salt-{when.year}-{(when.month - 1) // 3}".encode()
    return hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()


def _event(schema: str, n: int) -> dict:
    user = 900_000_000 + n
    token = f"sess-secret-{n:04d}"
    if schema == "EditAttemptStep":
        return {
            "action": "init",
            "platform": "desktop",
            "user_id": user,
            "editing_session_id": token,
            "page_title": f"Secret_page_{n}",
        }
    if schema == "Nested":
        return {"performer": {"user_id": user, "edit_count": n, "token": token}, "ns": 0}
    if schema == "Extended":
        return {"action": "view", "page_id": 7000 + n, "user_id": user, "query": token}
    return {"user_id": user, "searchToken": token, "query": f"secret query {n}"}


def capsule(schema: str, n: int, when: datetime.datetime) -> dict:
    return {
        "schema": schema,
        "revision": "1.0.0",
        "wiki": "enwiki",
        "uuid": f"{n:032x}",
        "timestamp": int(when.timestamp()),
        "webHost": "en.wikipedia.org",
        "userAgent": f"SecretAgent/{n} (X11; Linux)",
        "topic": "eventlogging_" + schema,
        "recvFrom": "cp3050",
        "seqId": n,
        "event": _event(schema, n),
    }


def secrets(n: int) -> list[bytes]:
    """What no record ``n`` may leave behind once it is past retention."""
    return [
        str(900_000_000 + n).encode(),
        f"sess-secret-{n:04d}".encode(),
        f"SecretAgent/{n}".encode(),
        f"Secret_page_{n}".encode(),
        f"secret query {n}".encode(),
        IP.encode(),
    ]


def varnish_line(c: dict) -> bytes:
    query = urllib.parse.quote_plus(orjson.dumps(c).decode())
    return f"?{query}; cp3050 {c['seqId']} 2026-01-01T00:00:00 {IP} {c['userAgent']}".encode()


def write_day(
    directory: Path,
    day: datetime.datetime,
    schemas: list[tuple[str, int]],
    extra_valid: list[bytes] | tuple = (),
    future: int | None = None,
) -> list[dict]:
    """The three logs of ``day`` (its start) holding one record of each (schema, n); record
    ``future`` is stamped long after its day (a client clock ahead).  Returns the capsules."""
    logs = EventLogs(directory)
    logs.roll(now=day.timestamp())
    capsules = []
    for i, (schema, n) in enumerate(schemas):
        when = NOW + 400 * DAY if n == future else day + datetime.timedelta(minutes=37 * i)
        c = capsule(schema, n, when)
        capsules.append(c)
        logs.raw(varnish_line(c))
        logs.valid(c)
        message = f"user_id {900_000_000 + n} from {IP} is not a string"
        logs.invalid(EventError(varnish_line(c).decode(), message, "validation", schema, "1.0.0"))
    logs.sync()
    logs.close()
    if extra_valid:
        with open(directory / f"valid-{day.date().isoformat()}.jsonl", "ab") as out:
            out.write(b"".join(line + b"\n" for line in extra_valid))
    return capsules


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def records(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]
