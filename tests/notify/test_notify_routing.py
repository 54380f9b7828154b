"""Who ``el-monitor notify`` mails and what about: each owner group of the schemas an alert
blames gets its own mail with the graph inline, unowned schemas and service-level alerts go to
ops, recoveries and acknowledgements reach whoever was told of the problem; which schemas a
notification blames (culprits) and how perfdata ranges are read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from el_monitor.catalog.load import load_catalog
from el_monitor.notify.culprits import culprits
from el_monitor.notify.dispatch import notify
from el_monitor.notify.notification import Notification
from el_monitor.notify.perfdata import parse_perfdata

from .support import OK_OUTPUT, RATE_OUTPUT, Clock, by_recipient, parts, problem


def test_problem_mails_each_owner_group_with_the_graph_inline(catalog_path, inbox, render):
    catalog = load_catalog(catalog_path)
    result = notify(problem(), catalog, clock=Clock())
    assert result.failure is None and len(result.messages) == 2
    mails = by_recipient(inbox.take())
    assert set(mails) == {"perf-team@example.org", "editing-team@example.org"}

    perf = mails["perf-team@example.org"]
    assert (
        perf["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-rate — NavigationTiming, SaveTiming"
    )
    assert perf["From"] == "el-monitor@example.org"
    assert perf["Auto-Submitted"] == "auto-generated"
    text, html, images = parts(perf)
    assert len(images) == 1
    image = images[0]
    assert image.get_content_type() == "image/png"
    assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert "* NavigationTiming: 180.2" in text and "* SaveTiming: 40.3" in text
    assert "* EditAttemptStep" not in text
    assert RATE_OUTPUT in text
    assert "https://graphite.example.org/render?target=" in text
    assert "https://wiki.example.org/Runbook/el-rate#NavigationTiming" in html
    assert "What to do" in text and "perf-team@example.org" in text

    editing = mails["editing-team@example.org"]
    assert editing["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-rate — EditAttemptStep"
    assert len(parts(editing)[2]) == 1

    # One render query for everything mailed: each schema's rate and the judged overall rate.
    assert len(render.queries) == 1
    assert render.targets() == [
        'alias(sumSeries(eventlogging.*.schema.NavigationTiming.raw.rate),"NavigationTiming")',
        'alias(sumSeries(eventlogging.*.schema.SaveTiming.raw.rate),"SaveTiming")',
        'alias(sumSeries(eventlogging.*.schema.EditAttemptStep.raw.rate),"EditAttemptStep")',
        'alias(sumSeries(eventlogging.*.overall.raw.rate),"overall")',
    ]
    assert ("from", "-6h") in render.queries[0]


def test_unowned_schema_and_service_level_alerts_go_to_ops(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    schema_rate = problem(
        service="el-schema-rate",
        output="EL_SCHEMA_RATE CRITICAL - HelpPanel 243.1/s > 200 (8 of 10 points; owners: -)",
        perfdata="HelpPanel=243.1;150;200;0 NavigationTiming=20;112.5;150;0",
    )
    notify(schema_rate, catalog, clock=clock)
    inserted = problem(
        service="el-inserted",
        output="EL_INSERTED CRITICAL - nothing inserted for the last 90 s while 1234 valid "
        "events arrived",
        perfdata="ratio=0;0.9:;0.5:;0 stalled=90s valid=1234;;;0 inserted=0;;;0",
    )
    notify(inserted, catalog, clock=clock)
    (rcpt1, first), (rcpt2, second) = inbox.take()
    assert rcpt1 == rcpt2 == ["ops@example.org"]
    assert first["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-schema-rate — HelpPanel"
    assert "no owner is set for HelpPanel" in parts(first)[0]
    assert second["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-inserted on eventlogging"
    assert "the alert names no schema" in parts(second)[0]


def test_recovery_reaches_whoever_was_told_of_the_problem(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    notify(problem(), catalog, clock=clock)
    inbox.take()
    clock.now += 1200
    # The OK line names other schemas (HelpPanel): the recovery still goes to the problem's.
    result = notify(
        problem(type="RECOVERY", state="OK", output=OK_OUTPUT, perfdata="rate=80;150;200;0"),
        catalog,
        clock=clock,
    )
    assert result.failure is None
    mails = by_recipient(inbox.take())
    assert set(mails) == {"perf-team@example.org", "editing-team@example.org"}
    perf = mails["perf-team@example.org"]
    assert perf["Subject"] == "[el-monitor] RECOVERY: OK el-rate — NavigationTiming, SaveTiming"
    text, _, images = parts(perf)
    assert "has recovered" in text and "Nothing to do" in text and len(images) == 1


def test_acknowledgement_wording(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    notify(problem(), catalog, clock=clock)
    inbox.take()
    clock.now += 60
    notify(problem(type="ACKNOWLEDGEMENT"), catalog, clock=clock)
    mails = by_recipient(inbox.take())
    perf = mails["perf-team@example.org"]
    assert perf["Subject"] == (
        "[el-monitor] ACKNOWLEDGEMENT: CRITICAL el-rate — NavigationTiming, SaveTiming"
    )
    assert "was acknowledged" in parts(perf)[0]


def test_culprits_rule():
    catalog = load_catalog_text("")
    schema_rate = Notification(
        "PROBLEM",
        "h",
        "el-schema-rate",
        "CRITICAL",
        "EL_SCHEMA_RATE CRITICAL - NavigationTiming 243.1/s > 200 (8 of 10 points; owners: -)",
        "NavigationTiming=243.1;150;200;0 SaveTiming=20;150;200;0 EditAttemptStep=1;1;2;0",
    )
    perf = parse_perfdata(schema_rate.perfdata)
    assert culprits(schema_rate, perf, catalog) == ["NavigationTiming"]
    # Nothing named in the status line: the values outside their own ranges.
    quiet = Notification(
        "PROBLEM", "h", "x", "CRITICAL", "X CRITICAL - see perfdata", schema_rate.perfdata
    )
    assert culprits(quiet, perf, catalog) == ["NavigationTiming"]
    # Generic metrics and a quoted label with spaces are never schemas.
    rate = Notification(
        "PROBLEM",
        "h",
        "el-rate",
        "CRITICAL",
        "overall rate 5 'a b' 5",
        "rate=5;1;2 overall=5;1;2 'a b'=5;1;2",
    )
    assert culprits(rate, parse_perfdata(rate.perfdata), catalog) == []
    assert parse_perfdata("'it''s'=1.5s;1;2;0;10 junk x=U")[0].label == "it's"
    # An output that is all perfdata names nothing (and is no reason to fail).
    bare = Notification("PROBLEM", "h", "x", "CRITICAL", "|NavigationTiming=243;150;200", "")
    assert culprits(bare, perf, catalog) == ["NavigationTiming"]


@pytest.mark.parametrize(
    ("text", "limit", "crossed_at"),
    [
        ("NavigationTiming=243.1;150;200;0", 200.0, True),  # 0..200: the end is the limit
        ("NavigationTiming=5;10:;20:", 20.0, True),  # at least 20: the start is the limit
        ("NavigationTiming=15;~:10", 10.0, True),
        ("NavigationTiming=15;5:20", 20.0, False),
        ("NavigationTiming=7;;@5:10", None, True),  # inside range: alert within, no line
        ("NavigationTiming=70;;@5:10", None, False),
        ("NavigationTiming=243;x;1:2:3", None, False),  # malformed ranges are ignored
        ("NavigationTiming=243;10:5;@", None, False),  # start past end; a bare "@"
        ("NavigationTiming=243;;bad;0", None, False),
        ("NavigationTiming=243;150;;0", 150.0, True),  # no critical: the warning
        ("NavigationTiming=U;150;200", 200.0, False),  # no value: never crossed
    ],
)
def test_perfdata_ranges_are_read_as_nagiosplugin_reads_them(text, limit, crossed_at):
    (perf,) = parse_perfdata(text)
    assert perf.limit() == limit and perf.crossed() is crossed_at


def load_catalog_text(text: str, name: str = "c.toml") -> object:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        return load_catalog(path)
