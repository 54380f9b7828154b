"""Rules from the catalog and grants at a given moment, and table names read back."""

from __future__ import annotations

import datetime

from el_monitor.catalog.model import SchemaPolicy
from el_monitor.retention.extensions import DATABASE, Grant
from el_monitor.retention.policy import DELETE, SANITIZE, rules_for
from el_monitor.store.mapping import field_column, split_table_name, table_name

NOW = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)


def test_longest_unexpired_grant_wins_and_fields_make_two_stages():
    policy = SchemaPolicy("Edit", keep=("action",), hash=("token",))
    grants = [
        Grant("Edit", 120, datetime.date(2026, 3, 1), "T1", ("page.id",)),
        Grant("Edit", 400, datetime.date(2026, 2, 28), "T2 expired yesterday"),
        Grant("Other", 500, datetime.date(2027, 1, 1), "another schema"),
        Grant("Edit", 60, datetime.date(2027, 1, 1), "shorter: no effect", source=DATABASE),
    ]
    rules = rules_for(policy, grants, NOW)
    assert (rules.action, rules.retention_days, rules.first_days) == (SANITIZE, 120, 90)
    assert (rules.cutoff, rules.first_cutoff) == ("20251101120000", "20251201120000")
    assert rules.partial and rules.extended == ("page.id",) and rules.extension is grants[0]
    assert rules.describe() == (
        "after 90d keep only action, page.id; sanitize after 120d, keep action, hash token "
        "[extension: 120d until 2026-03-01 (fields page.id; catalog: T1)]"
    )
    later = rules_for(policy, grants, NOW + datetime.timedelta(days=1))
    assert (later.retention_days, later.partial, later.extension) == (90, False, None)
    capped = rules_for(SchemaPolicy("Edit"), [], NOW, before=datetime.date(2025, 10, 1))
    assert (capped.action, capped.cutoff) == (DELETE, "20251001000000")


def test_table_names_read_back_and_fields_to_columns():
    for schema, revision in [("Edit", "17325565"), ("Nav_Timing", "1.7.0"), ("Test2", "2")]:
        table = table_name(schema, revision)
        assert split_table_name(table, {schema}) == (schema, table[len(schema) + 1 :])
    # Unknown to registry and catalog: cut before the first numbered part.
    assert split_table_name("OldSchema_1_2_0", set()) == ("OldSchema", "1_2_0")
    assert split_table_name("el_monitor_counts", set()) is None
    assert split_table_name("Nav_Timing_1_7_0", {"Nav"}) == ("Nav_Timing", "1_7_0")
    assert [field_column(f) for f in ("wiki", "webHost", "performer.user_id", "token")] == [
        "wiki", "webHost", "event_performer_user_id", "event_token"
    ]  # fmt: skip
