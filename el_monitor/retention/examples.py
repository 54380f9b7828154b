"""Retention of the error examples kept for the daily report (``el_monitor_errors``).

Each error row keeps the first raw event of its hour and the message about it, which may
quote the event's values: raw text, like the invalid log, so it goes at the policy's shortest
retention whatever its schema (``records.text_cutoff``).  The row's counts stay, for the
report's history; the example is dropped and the message replaced.  A row is judged by the
start of its hour, so nothing of an hour partly past retention is kept.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, NamedTuple

from el_monitor.retention.records import DEFAULT_DAYS, text_cutoff
from el_monitor.store.counts import clear_examples, old_example_keys

if TYPE_CHECKING:
    from el_monitor.store import Store

__all__ = ["EXAMPLE_EXPIRED", "ExampleCleaning", "clear_old_examples"]

EXAMPLE_EXPIRED = "(example removed: past retention)"


class ExampleCleaning(NamedTuple):
    before: datetime.datetime  # rows of hours that began before this lose their example
    cleared: int  # examples removed, or that would be in a dry run
    executed: bool


def clear_old_examples(
    store: Store,
    now: datetime.datetime,
    *,
    shortest_days: int = DEFAULT_DAYS,
    execute: bool = False,
    batch_size: int = 1000,
) -> ExampleCleaning:
    """Drop the examples past the shortest retention as of ``now`` (aware), a batch (one
    short transaction) at a time; a dry run only counts them."""
    before = text_cutoff(now, shortest_days)
    cleared = last = 0
    while keys := old_example_keys(store, before, last, batch_size):
        if execute:
            clear_examples(store, keys, EXAMPLE_EXPIRED)
        cleared += len(keys)
        last = keys[-1]
    return ExampleCleaning(before, cleared, execute)
