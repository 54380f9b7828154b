"""The windows of an event table's rows that a rollup counts, read ahead in threads.

Most of a rollup's time is the server writing each row's numbers as text; the rows are
counted in Python meanwhile.  So windows of ids are read by ``READERS`` threads, each on its
own connection (``Store.another_connection``; only the caller's where the engine gains
nothing from another or the server refuses one), while the caller counts the windows
already read, in any order (counting does not depend on it).  A window whose text the
server would cut (``WindowCut``) is read again in halves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from queue import SimpleQueue

from el_monitor.store.base import Store, StoreUnavailable
from el_monitor.store.rollup_scan import (
    RollupSource,
    Window,
    WindowCut,
    concat_limit,
    id_span,
    scan_window,
)

__all__ = ["READERS", "windows"]

READERS = 2  # statements at a time on the server: the machine has 2 cores

Part = tuple[int, int]  # after < id <= last


def windows(
    store: Store,
    source: RollupSource,
    period_chars: int,
    start: str,
    end: str,
    window: int,
    readers: int = READERS,
) -> Iterator[Window]:
    """The rows of ``source`` with a timestamp in [start, end), ``window`` ids at a time."""
    span = id_span(store, source.table, start, end)
    if span is None:
        return
    longest = concat_limit(store)
    todo = deque((after, min(after + window, span[1]))
                 for after in range(span[0] - 1, span[1], window))  # fmt: skip
    with ExitStack() as stack:
        free: SimpleQueue[Store] = SimpleQueue()
        free.put(store)
        for _ in range(min(readers, len(todo)) - 1):
            try:
                other = store.another_connection()
            except StoreUnavailable:  # too many connections, say: read with those there are
                other = None
            if other is None:
                break
            stack.callback(other.close)
            free.put(other)

        def read(part: Part) -> tuple[Part, Window | None]:
            reader = free.get()  # one per running read: never blocks
            try:
                return part, scan_window(reader, source, period_chars, (start, end, *part), longest)
            except WindowCut:
                if part[1] - part[0] < 2:
                    raise
                return part, None
            finally:
                free.put(reader)

        threads = free.qsize()
        pool = stack.enter_context(ThreadPoolExecutor(threads, "rollup-read"))
        pending: deque[Future[tuple[Part, Window | None]]] = deque()
        while todo or pending:
            while todo and len(pending) <= threads:  # one more than are read at once
                pending.append(pool.submit(read, todo.popleft()))
            (after, last), rows = pending.popleft().result()
            if rows is None:
                middle = (after + last) // 2
                todo.extendleft([(middle, last), (after, middle)])
            else:
                yield rows
