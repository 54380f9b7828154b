"""Tokens are hashed by the database (``Dialect.hmac_sha256``: SHA2 calls on MariaDB, an
application function on SQLite) and must equal Python's ``hmac`` on the same text, under the
salt of each row's own period, for any text a token column can hold."""

from __future__ import annotations

import datetime
import hashlib
import hmac

from el_monitor.retention.hashing import period_start, salt_period
from el_monitor.store.retention_rows import PeriodSalt, Sanitize, sanitize_batch

VALUES = [
    "0123456789abcdef0123",
    "",
    'it\'s "quoted" ; DROP TABLE x; --',
    "Ünïcødé ✓ 日本語 🎉",
    "x" * 180,
    None,
]
SALTS = [bytes(range(32)), b"\xff" * 32, b"s" * 80]  # the last longer than a SHA-256 block


def test_database_hmac_equals_python_hmac_per_period(store):
    q = store.dialect.quote
    store.execute(
        f"CREATE TABLE {q('t_hmac')} ({q('id')} INTEGER PRIMARY KEY, {q('timestamp')} "
        f"VARCHAR(14), {q('tok')} VARCHAR(191), {q('gone')} VARCHAR(10), "
        f"{q('el_retention')} SMALLINT NULL)"
        + (" DEFAULT CHARSET=utf8mb4" if store.dialect.name == "mysql" else "")
    )
    first = salt_period(datetime.date(2026, 1, 1))
    periods = [first, first + 1, first + 2]
    rows, key = [], 0
    for period in periods:
        moment = period_start(period)  # the first second of the period, and one late in it
        for timestamp in (moment, moment[:8] + "235959"):
            for value in VALUES:
                key += 1
                rows.append((key, timestamp, value, "x", period))
    for key, timestamp, value, gone, _ in rows:
        store.execute(
            f"INSERT INTO {q('t_hmac')} ({q('id')}, {q('timestamp')}, {q('tok')}, {q('gone')}) "
            f"VALUES ({store.dialect.marks(4)})",
            (key, timestamp, value, gone),
        )
    salts = [PeriodSalt(period_start(p), salt) for p, salt in zip(periods, SALTS, strict=True)]
    changed = sanitize_batch(
        store, "t_hmac", [r[0] for r in rows], Sanitize(("gone",), None, 2), ("tok",), salts
    )
    assert changed == len(rows)
    stored = dict(store.query(f"SELECT {q('id')}, {q('tok')} FROM {q('t_hmac')}"))
    salt_of = dict(zip(periods, SALTS, strict=True))
    for key, _, value, _, period in rows:
        expected = None
        if value is not None:
            expected = hmac.new(salt_of[period], value.encode(), hashlib.sha256).hexdigest()
        assert stored[key] == expected, (key, value, period)
    assert store.query(f"SELECT DISTINCT {q('gone')}, {q('el_retention')} FROM {q('t_hmac')}") == [
        (None, 2)
    ]
