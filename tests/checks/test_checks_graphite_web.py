"""The check_el_* plugins against Debian's graphite-web 1.1 (the session's ``graphite_server``):
the queries mean there what the stub graphite-web says they mean."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from el_monitor.checks import inserted as check_inserted
from el_monitor.checks import invalid as check_invalid
from el_monitor.checks import rate as check_rate
from el_monitor.checks import schema_rate as check_schema_rate
from el_monitor.checks import silence as check_silence

from .support import CATALOG, status


@pytest.mark.graphite
def test_plugins_against_debian_graphite_web(graphite_server, tmp_path: Path, capsys) -> None:
    """The queries mean on graphite-web 1.1 what the stub says: groupByNodes names, brace
    globs (the duplicates check_el_inserted adds to its inserts), a hyphenated schema, sums over
    two forwarders, nulls between points."""
    # Under eventlogging. for the project's storage-aggregation.conf (counts summed with
    # xFilesFactor 0, so the -24h look-back still sees one sparse point); two nodes deep to
    # test the node arithmetic.
    prefix = f"eventlogging.checks{os.getpid()}x{int(time.time())}"
    now = int(time.time())
    lines = []
    for step in range(1, 50):
        ts = now - now % 10 - 10 * step
        for instance, share in (("fw1", 0.6), ("fw2", 0.4)):
            head = f"{prefix}.{instance}"
            lines += [
                f"{head}.{name} {value * share} {ts}"
                for name, value in (
                    ("overall.raw.rate", 243.1),
                    ("overall.raw.count", 2431),
                    ("overall.valid.count", 1660),
                    ("overall.invalid.count", 340),
                    ("overall.inserted.count", 1600),
                    ("overall.duplicate.count", 40),
                    ("overall.spooled.count", 0),
                    ("overall.errors.validation.action.count", 300),
                    ("schema.NavigationTiming.raw.rate", 180.2),
                    ("schema.Edit-Draft.raw.rate", 5),
                    ("schema.EditAttemptStep.raw.rate", 40.3),
                    ("schema.EditAttemptStep.valid.count", 660),
                    ("schema.EditAttemptStep.invalid.count", 340),
                    ("schema.EditAttemptStep.errors.validation.action.count", 300),
                    ("schema.EditAttemptStep.errors.validation.root.count", 40),
                )
            ]
    silent_since = now - now % 10 - 3000  # aligned: the -24h look-back reads 10 s points
    lines.append(f"{prefix}.fw3.overall.raw.count 1 {silent_since}")
    graphite_server.send(lines)
    graphite_server.wait_for(
        [
            f"{prefix}.*.overall.*.*",
            f"{prefix}.*.overall.*.*.*.*",
            f"{prefix}.*.schema.*.*.*",
            f"{prefix}.*.schema.*.*.*.*.*",
        ],
        lambda series: sum(any(v is not None for v, _ in s["datapoints"]) for s in series) == 31,
    )
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(CATALOG)
    common_args = ["--graphite", graphite_server.url, "--prefix", prefix, "-t", "5"]

    def check(module: object, *args: str) -> tuple[int, str]:
        code = module.main([*common_args, *args])  # type: ignore[attr-defined]
        return code, status(capsys.readouterr().out)[0]

    code, text = check(check_rate)
    assert code == 2
    assert re.fullmatch(
        r"EL_RATE CRITICAL - 243.1 events/s over the last 10min \((\d+) of \1 points above "
        r"200\); top: NavigationTiming 180.2/s, EditAttemptStep 40.3/s, Edit-Draft 5/s",
        text,
    ), text
    code, text = check(check_schema_rate, "--config", str(catalog))
    assert code == 1
    assert text.startswith("EL_SCHEMA_RATE WARNING - NavigationTiming 180.2/s > 150 (")
    code, text = check(check_invalid)
    assert (code, text) == (
        2,
        "EL_INVALID CRITICAL - EditAttemptStep 34% invalid (most: validation at $.action); "
        "overall 17% of 98000 events over the last 10min (most: validation at $.action)",
    )
    code, text = check(check_inserted)
    assert (code, text) == (
        0,
        "EL_INSERTED OK - 98.8% of valid events inserted or already stored over the last 10min "
        "(80360 of 81340, 1960 of them duplicates)",
    )
    code, text = check(check_silence, "--schema", "Edit-Draft", "-c", "10:")
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(silent_since))
    assert code == 2
    assert text == (
        f"EL_SILENCE CRITICAL - forwarder fw3 sent no metrics since {since}; 2 of 3 sending; "
        "Edit-Draft 5/s < 10 over the last 10min"
    )
