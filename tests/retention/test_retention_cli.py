"""``el-monitor retention``: a dry run reports per table and changes nothing (exit 1 when rows
are due), --execute does it (exit 0, then 0 with nothing due), a guard refuses (exit 3);
``extend`` records an extension that ``list`` shows and the next run applies."""

from __future__ import annotations

import datetime

from el_monitor.cli.main import main

from .support import TABLES, catalog_file, registry_dir, rows_of, seed


def retention(db_url, tmp_path, *argv: str) -> int:
    config = ["--config", str(catalog_file(tmp_path))]
    return main(["retention", *argv, "--db", db_url, *config])


def table_lines(out: str) -> list[str]:
    """The per-table report, after the pre-steps' summary lines (error examples, logs)."""
    lines = out.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("table")) :]


def run_args(tmp_path, *extra: str) -> list[str]:
    return ["run", "--schemas", str(registry_dir(tmp_path)), *extra]


def test_dry_run_then_execute(store, db_url, tmp_path, capsys):
    now = datetime.datetime.now(datetime.UTC)
    seed(store, now)
    assert retention(db_url, tmp_path, *run_args(tmp_path)) == 1
    out = table_lines(capsys.readouterr().out)
    assert out[0].split() == ["table", "to", "delete", "to", "sanitize", "oldest", "due", "policy"]
    lines = {line.split()[0]: line.split() for line in out[2:8]}
    assert lines["SearchSatisfaction_1_4_0"][1:3] == ["330", "0"]
    assert lines["SearchSatisfaction_1_4_0"][4:] == ["delete", "after", "90d"]
    assert lines["ServerSideAccountCreation_1_1_0"][1:3] == ["0", "510"]
    assert " ".join(lines["ServerSideAccountCreation_1_1_0"][4:]) == (
        "sanitize after 30d, keep isSelfMade, isApi, displayMobile, campaign, hash token"
    )
    assert out[-2].split()[:3] == ["total", "660", "1680"]
    assert out[-1] == "dry run: nothing changed; run with --execute to do it"
    assert [len(rows_of(store, t)) for t in TABLES] == [600] * 6

    assert retention(db_url, tmp_path, *run_args(tmp_path, "--execute")) == 0
    out = table_lines(capsys.readouterr().out)
    assert out[0].split()[:3] == ["table", "deleted", "sanitized"]
    total = next(line for line in out if line.startswith("total")).split()
    assert total[:3] == ["total", "660", "1680"]
    assert [len(rows_of(store, t)) for t in TABLES] == [600, 600, 600, 600, 270, 270]

    assert retention(db_url, tmp_path, *run_args(tmp_path)) == 0  # nothing left due
    assert retention(db_url, tmp_path, *run_args(tmp_path, "--execute", "--schema", "Test")) == 0
    assert "no event tables: nothing to do" in capsys.readouterr().out


def test_extend_list_and_a_guard(store, db_url, tmp_path, capsys):
    now = datetime.datetime.now(datetime.UTC)
    seed(store, now)
    until = (now + datetime.timedelta(days=30)).date().isoformat()
    reason = ["--reason", "T9: study", "--by", "pm@example.org"]
    extend = ["extend", "SearchSatisfaction", "--days", "365", "--until", until, *reason]
    assert retention(db_url, tmp_path, *extend) == 0
    assert capsys.readouterr().out.startswith(f"SearchSatisfaction: 365d until {until}")
    assert retention(db_url, tmp_path, "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["schema", "days", "until", "state", "fields", "source", "reason"]
    rows = [line.split() for line in listing[2:]]
    assert ["NavigationTiming", "150", "2026-06-30", "EXPIRED"] in [r[:4] for r in rows]
    assert ["SearchSatisfaction", "365", until, "active", "(rows)", "database"] in [
        r[:6] for r in rows
    ]
    assert retention(db_url, tmp_path, *run_args(tmp_path, "--execute", "--schema",
                                                  "SearchSatisfaction")) == 0  # fmt: skip
    assert [len(rows_of(store, t)) for t in list(TABLES)[4:]] == [600, 600]  # kept a year

    assert retention(db_url, tmp_path, "extend", "SearchSatisfaction", "--days", "365",
                     "--until", "2020-01-01", "--reason", "x", "--by", "y") == 2  # fmt: skip
    assert "--until 2020-01-01 is already past" in capsys.readouterr().err
    assert retention(db_url, tmp_path, "extend", "ServerSideAccountCreation", "--days", "20",
                     "--until", until, "--reason", "x", "--by", "y") == 2  # fmt: skip
    assert "keeps rows 30 days already; --days must be more" in capsys.readouterr().err

    bad = catalog_file(tmp_path).read_text().replace('["token"]', '["tokn"]')
    catalog_file(tmp_path, bad)
    config = ["--config", str(tmp_path / "el-monitor.toml")]
    registry = str(registry_dir(tmp_path))
    code = main(["retention", "run", "--schemas", registry, "--db", db_url, *config, "--execute"])
    assert code == 2  # the catalog checks hash fields against the registry first
    assert "no field 'tokn'" in capsys.readouterr().err
