"""A batch's rows are addressed by id ranges when the ids run on and by id lists when they
are scattered; either way exactly the batch's rows change, on both engines."""

from __future__ import annotations

import random

import pytest

from el_monitor.store.retention_rows import delete_batch

ROWS = 5000


@pytest.mark.parametrize(
    "pick",
    [
        pytest.param(lambda rng: list(range(10, 4010)), id="one-run"),
        pytest.param(
            lambda rng: [k for k in range(1, ROWS + 1) if k % 100 not in (7, 8)],
            id="runs-with-gaps",
        ),  # fmt: skip
        pytest.param(lambda rng: rng.sample(range(1, ROWS + 1), 2500), id="scattered"),
        pytest.param(lambda rng: [ROWS, 1], id="two-ends"),
    ],
)
def test_exactly_the_batch_rows_are_deleted(store, pick):
    q = store.dialect.quote
    store.execute(f"CREATE TABLE {q('t_keys')} ({q('id')} INTEGER PRIMARY KEY, {q('v')} INTEGER)")
    for start in range(1, ROWS + 1, 500):
        keys = range(start, min(ROWS, start + 499) + 1)
        marks = ", ".join(f"({store.dialect.mark}, 0)" for _ in keys)
        store.execute(f"INSERT INTO {q('t_keys')} ({q('id')}, {q('v')}) VALUES {marks}", list(keys))
    ids = pick(random.Random(5))
    random.Random(6).shuffle(ids)  # a batch comes in timestamp order, not id order
    assert delete_batch(store, "t_keys", ids) == len(ids)
    left = {key for (key,) in store.query(f"SELECT {q('id')} FROM {q('t_keys')}")}
    assert left == set(range(1, ROWS + 1)) - set(ids)
