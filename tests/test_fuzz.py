"""Mutated example events through a whole forwarder: nothing escapes, every event is counted.

Each line is a bundled example with one to three values replaced by something hostile (huge
numbers and digit strings, deep nesting, long or odd strings, SQL and HTML, wrong types), or
a line that is not JSON at all.  The forwarder runs with the example catalog's sampling and an
opt-out list in force, into SQLite and MariaDB, and must finish with exact books: every line
counted once, and every valid event either stored or refused with a ``store`` error.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable

from forwarder.support import count_rows
from helpers import ROOT, SCHEMAS, ListSource, example_capsules

from el_monitor.catalog.load import load_catalog
from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.ingest.policy import PolicyLoader
from el_monitor.measures import OVERALL
from el_monitor.optout.listfile import add_optout
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

SECRET = b"fuzz-secret"


def nested(depth: int, leaf: object, container: type = dict) -> object:
    for _ in range(depth):
        leaf = {"x": leaf} if container is dict else [leaf]
    return leaf


HOSTILE = [
    "9" * 5000,  # more digits than int() takes from a string
    2**63,
    2**64 + 1,
    -(2**63) - 1,
    1e308,
    -0.0,
    "",
    "\x00",
    "<script>alert(1)</script>",
    "'; DROP TABLE x;--",
    "a" * 70_000,
    "💩" * 1000,
    True,
    None,
    [],
    {},
    [1, [2, [3]]],
    nested(3, 1),
    nested(300, "deep", list),
    list(range(5000)),
    {f"k{i}": i for i in range(500)},
    "0",
    "00012",
    12,
    "2026-11-28T05:00:00Z",
]
NOT_JSON = [b'{"schema": "X"', b"\xff\xfe\xfd", b"[" * 50_000, b"null", b"", b"   "]


def paths(obj: dict, prefix: tuple = ()) -> list[tuple]:
    """Every key path inside a capsule but its uuid (a replaced uuid is simply invalid, and
    a missing one is derived from fields that may repeat: it would blur the books)."""
    found = []
    for key, value in obj.items():
        if prefix == () and key == "uuid":
            continue
        found.append((*prefix, key))
        if type(value) is dict:
            found.extend(paths(value, (*prefix, key)))
    return found


def hostile_lines(count: int, seed: int, read_early: Callable[[str], list[tuple]]) -> list[bytes]:
    """``read_early(schema)``: the event paths read before validation (sampling, opt-out),
    where an unvalidated value is most likely to upset something; half the mutations go
    there when the schema has any."""
    rng = random.Random(seed)
    capsules = example_capsules()
    lines = []
    for i in range(count):
        capsule = json.loads(json.dumps(capsules[i % len(capsules)]))
        capsule.update(uuid=f"{i:032x}", timestamp=1795842000 + i)
        early = read_early(capsule["schema"])
        for _ in range(rng.randint(0, 3)):
            if early and rng.random() < 0.5:
                *parents, key = ("event", *rng.choice(early))
            else:
                *parents, key = rng.choice(paths(capsule))
            target = capsule
            for parent in parents:
                if type(target.get(parent)) is not dict:
                    target[parent] = {}
                target = target[parent]
            value = rng.choice(HOSTILE)
            target[key] = json.loads(json.dumps(value)) if type(value) is dict else value
        lines.append(json.dumps(capsule).encode())
        if i % 50 == 0:
            lines.append(rng.choice(NOT_JSON))
    return lines


def test_hostile_events_are_counted_and_never_stop_the_forwarder(db_url, tmp_path):
    secret, optouts = tmp_path / "secret", tmp_path / "optout.jsonl"
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    add_optout(optouts, SECRET, "enwiki", "user-id", "12")  # TemplateWizard's sample performer
    registry = DirectoryRegistry(SCHEMAS)
    path = ROOT / "examples" / "el-monitor.toml"
    catalog = load_catalog(path, registry)

    def read_early(schema: str) -> list[tuple]:
        policy = catalog.policy(schema)
        return [tuple(f.split(".")) for f in (*policy.user_fields, *policy.sample_key)]

    loader = PolicyLoader(path, registry, str(secret), str(optouts))
    lines = hostile_lines(3000, seed=11, read_early=read_early)
    store = open_store(db_url)
    try:
        settings = ForwarderSettings(host="fuzz", log_dir=str(tmp_path / "logs"), batch_size=100)
        forwarder = Forwarder(
            settings, ListSource(lines), registry, store, policy=loader.load(), reloader=loader
        )
        result = forwarder.run(threading.Event())
    finally:
        store.close()
    counts = {m: result.counts.get(OVERALL, m) for m in ("raw", "valid", "invalid", "inserted")}
    dropped = result.counts.get(OVERALL, "sampled_out") + result.counts.get(OVERALL, "opted_out")
    refused = sum(n for (code, _), n in result.counts.errors[OVERALL].items() if code == "store")
    assert result.pending == 0
    assert counts["raw"] == len(lines) == counts["valid"] + counts["invalid"] + dropped
    assert counts["valid"] == counts["inserted"] + refused
    assert counts["inserted"] == count_rows(db_url) > 100
    assert result.counts.get(OVERALL, "opted_out") > 0
    assert counts["invalid"] > len(lines) // 2  # the mutations mostly break validation
