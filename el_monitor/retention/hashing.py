"""Tokens kept after sanitizing as HMAC-SHA256 under a salt that rotates every 90 days.

The salt is chosen by the *row's* timestamp (its 90-day period since 1970-01-01 UTC), not by
when retention runs: a rerun hashes a token to the same value, and a token's rows within one
period still join, while rows of different periods do not (a token cannot be followed for
long).  Salts are 32 random bytes made on first need and stored in the database
(``el_monitor_retention_salts``) so every run, host and log cleaner agrees.

A salt is forgotten (``forget_salts``) once its whole period is older than the longest
retention in force: every row of it has then been sanitized or deleted, and without the salt
nobody can test a guessed token against the stored hashes any more, which is what turns
pseudonymous hashes into anonymous ones.  A row backfilled into such a period later gets a
new salt (its hash joins no older one).
"""

from __future__ import annotations

import contextlib
import datetime
import secrets

from el_monitor.store import Store, StoreError
from el_monitor.store.dialect import hmac_hex
from el_monitor.store.retention import add_salt, delete_salts_before, read_salt
from el_monitor.store.retention_rows import PeriodSalt

SALT_DAYS = 90
_EPOCH = datetime.date(1970, 1, 1)


def salt_period(when: datetime.datetime | datetime.date) -> int:
    """The salt period of a moment (UTC): days since 1970-01-01, by 90."""
    if isinstance(when, datetime.datetime):
        when = when.astimezone(datetime.UTC).date() if when.tzinfo else when.date()
    return (when - _EPOCH).days // SALT_DAYS


def period_start(period: int) -> str:
    """The first moment of a salt period, as a MediaWiki timestamp."""
    day = _EPOCH + datetime.timedelta(days=period * SALT_DAYS)
    return day.strftime("%Y%m%d000000")


class TokenHasher:
    """``hash(value, when)``: the token's HMAC under the salt of ``when``'s period, the salt
    read from (or made in) the store once per period and then kept in this object."""

    def __init__(self, store: Store, now: datetime.datetime) -> None:
        self._store = store
        self._now = now  # recorded as the salt's creation time
        self._salts: dict[int, bytes] = {}

    def hash(self, value: str, when: datetime.datetime) -> str:
        return hmac_hex(self._salt(salt_period(when)), value)

    def salts(self, oldest: datetime.datetime, newest: datetime.datetime) -> list[PeriodSalt]:
        """The salt of every period from ``oldest``'s to ``newest``'s, each with the first
        moment of its period (MediaWiki timestamp), for the database to hash a batch."""
        return [
            PeriodSalt(period_start(period), self._salt(period))
            for period in range(salt_period(oldest), salt_period(newest) + 1)
        ]

    def _salt(self, period: int) -> bytes:
        salt = self._salts.get(period)
        if salt is None:
            text = read_salt(self._store, period)
            if text is None:
                # Another run may make it between the read and the insert: then its stands.
                with contextlib.suppress(StoreError):
                    add_salt(self._store, period, secrets.token_bytes(32).hex(), self._now)
                text = read_salt(self._store, period)
                if text is None:
                    raise StoreError(f"cannot record the salt of period {period}")
            salt = self._salts[period] = bytes.fromhex(text)
        return salt


def forget_salts(store: Store, now: datetime.datetime, longest_days: int) -> int:
    """Delete the salts of periods that ended more than ``longest_days`` before ``now``;
    returns how many went."""
    horizon = now - datetime.timedelta(days=longest_days)
    return delete_salts_before(store, salt_period(horizon))
