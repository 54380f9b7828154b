"""The two commands that end in an email: ``el-monitor notify`` as Icinga runs it (process
start to exit, against the private graphite-web and a real SMTP server), and the daily report
over a month of counts (collect in SQL, charts, HTML, text, the message)."""

from __future__ import annotations

import datetime
import json
import random
import sys
import time
from pathlib import Path

import corpus_events
from measure import REPEAT, median_ms, use_test_harness
from results import Figure, Planned, Reference, at_most

from el_monitor.catalog.load import load_catalog
from el_monitor.report.report import Templates, collect, make_charts, report_message
from el_monitor.store import open_store
from el_monitor.store.base import Store
from el_monitor.store.counts import (
    HourCounts,
    HourErrors,
    Measures,
    add_counts,
    create_counts_tables,
)

NOTIFY = Planned("el-monitor notify, start to exit (2 mails)", "ms", at_most(1500, "ms"))
EXAMPLE_CATALOG = corpus_events.ROOT / "examples" / "el-monitor.toml"


def notify(graphite_url: str, tmp: Path, floor: Reference, runs: int = 10) -> Figure:
    """Render query, graphs, templates and the SMTP hand-off; two owner groups, so two graphs
    and two mails per run."""
    use_test_harness(corpus_events.ROOT)
    from harness.smtp import smtp_server

    output = (
        "EL_RATE CRITICAL - 243 events/s over the last 10min (8 of 10 points above 200); "
        "top: NavigationTiming 180/s, EditAttemptStep 40/s"
    )
    with smtp_server() as smtp:
        args = [
            str(Path(sys.executable).with_name("el-monitor")), "notify",
            "--config", str(EXAMPLE_CATALOG), "--smtp", f"127.0.0.1:{smtp.port}",
            "--graphite", graphite_url, "--mail-from", "el-monitor@example.org",
            "--type", "PROBLEM", "--host", "eventlogging", "--service", "el-rate",
            "--state", "CRITICAL", "--output", output, "--time", str(int(time.time())),
            "--perfdata", "rate=243;150;200;0 NavigationTiming=180;;;0 EditAttemptStep=40;;;0",
        ]  # fmt: skip
        # A fresh state file per run: each run mails, as the first notification of a problem.
        commands = [[*args, "--state-file", str(tmp / f"notify-{run}.json")] for run in range(runs)]
        ms, done = median_ms(commands)
        mailed = len(smtp.handler.envelopes)
    problem = ""
    if done.returncode != 0 or mailed != 2 * runs:
        problem = (
            f"exit {done.returncode}, {mailed} mails for {runs} runs: {done.stderr.strip()[-200:]}"
        )
    return NOTIFY.measured(ms, f"median of {runs}", floor, problem)


def daily_report(tmp: Path, schemas: int = 55, days: int = 30) -> Figure:
    """The report over ``schemas`` schemas with ``days`` days of hourly counts and error groups,
    in SQLite."""
    store = open_store(f"sqlite:///{tmp / 'report.db'}")
    catalog_file = tmp / "report.toml"
    catalog_file.write_text('ops = ["ops@example.org"]\n')
    day = datetime.date(2026, 11, 27)
    try:
        rows = _fill_counts(store, day, schemas, days)
        catalog = load_catalog(catalog_file)
        best = float("inf")
        for _ in range(REPEAT):
            start = time.perf_counter()
            report = collect(store, catalog, day)
            report_message(report, "el-monitor@example.org", ["ops@example.org"],
                           make_charts(report), Templates())  # fmt: skip
            best = min(best, time.perf_counter() - start)
    finally:
        store.close()
    return Figure(
        f"daily report: {schemas} schemas x {days} days ({rows:,} rows)",
        best,
        "s",
        f"best of {REPEAT}",
        target=at_most(5, "s"),
    )


def _fill_counts(store: Store, day: datetime.date, schemas: int, days: int) -> int:
    """Hourly counts for ``days`` days up to ``day`` and an error group every six hours, for
    the first ``schemas`` bundled schemas: how many rows were written."""
    names = sorted(path.name for path in corpus_events.SCHEMAS.iterdir())[:schemas]
    rng = random.Random(1)
    counts: list[HourCounts] = []
    errors: list[HourErrors] = []
    for back in range(days):
        for hour in range(24):
            period = f"{day - datetime.timedelta(days=back)}T{hour:02d}:00:00Z"
            for name in names:
                valid, invalid = rng.randrange(100, 5000), rng.randrange(30)
                added = Measures(raw=valid + invalid, valid=valid, invalid=invalid, inserted=valid)
                counts.append(HourCounts(period, "bench", name, added))
                if hour % 6 == 0:
                    example = json.dumps({"schema": name, "event": {"token": "t" * 20}})
                    message = "'x' is not one of ['a', 'b']"
                    errors.append(
                        HourErrors(period, "bench", name, "validation", "$.action", invalid,
                                   message, example)
                    )  # fmt: skip
    create_counts_tables(store)
    add_counts(store, counts, errors)
    return len(counts) + len(errors)
