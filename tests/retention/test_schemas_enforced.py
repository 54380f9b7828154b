"""``el-monitor schemas --db`` says whether retention is enforced per revision: never run with
rows past policy (how late), then, after an executed run, when it last succeeded and the oldest
row it left, nothing late."""

from __future__ import annotations

import datetime
import json

from el_monitor.cli.main import main
from el_monitor.retention.engine import plan_run, run_retention
from el_monitor.store.retention import iso_time

from .support import catalog, catalog_file, registry_dir, seed


def schemas(db_url, tmp_path, capsys, *extra: str) -> str:
    argv = ["schemas", "--schemas", str(registry_dir(tmp_path)), "--db", db_url]
    assert main([*argv, "--config", str(catalog_file(tmp_path)), *extra]) == 0
    return capsys.readouterr().out


def test_schemas_shows_retention_enforced(store, db_url, tmp_path, capsys):
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    seed(store, now)  # 200 days of rows, the oldest 199.5 days old
    rows = {r["schema"]: r for r in json.loads(schemas(db_url, tmp_path, capsys, "--json"))}
    account = rows["ServerSideAccountCreation"]  # 30 days, sanitized
    assert (account["action"], account["retention_ran"], account["last_retention"]) == (
        "sanitize", False, None,
    )  # fmt: skip
    assert 169.5 <= account["overdue_days"] <= 169.51
    assert rows["SearchSatisfaction"]["action"] == "delete"
    assert 109.5 <= rows["SearchSatisfaction"]["overdue_days"] <= 109.51

    run_retention(plan_run(store, catalog(tmp_path), now, [], execute=True), batch_size=500)
    out = schemas(db_url, tmp_path, capsys)
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert out.splitlines()[0].split()[-5:] == ["retention", "run", "oldest", "unhandled", "late"]
    account = lines["ServerSideAccountCreation"]
    assert account[-3] == iso_time(now) and account[-1] == "-"
    # Left: rows up to half a day inside the 30 days (the oldest two minutes before that).
    oldest = datetime.datetime.fromisoformat(account[-2])
    assert oldest == now - datetime.timedelta(days=29.5, minutes=2)
    assert lines["SearchSatisfaction"][-1] == "-"
    navigation = json.loads(schemas(db_url, tmp_path, capsys, "--json"))
    nav = next(r for r in navigation if r["schema"] == "NavigationTiming")
    assert (nav["retention_ran"], nav["overdue_days"]) == (True, 0)
    # Sanitized rows are handled: the oldest unhandled is the oldest untouched one.
    left = now - datetime.timedelta(days=89.5, minutes=2)
    assert nav["oldest_unhandled"] == iso_time(left)
