"""Valid events of a batch by (hour, schema): a live group counted by its length, a group that
straddles hours (a backfill) event by event."""

from __future__ import annotations

from el_monitor.counts.hourly import HOUR, valid_by_hour


def _capsules(*seconds: int) -> list[dict]:
    return [{"schema": "S", "timestamp": second} for second in seconds]


def test_groups_in_one_hour_count_by_length_and_straddling_ones_by_event() -> None:
    hour = 1795842000 // HOUR
    valid = valid_by_hour(
        [
            ("Live", _capsules(hour * HOUR, hour * HOUR + 3599)),
            ("Backfill", _capsules((hour - 24) * HOUR, hour * HOUR, hour * HOUR + 1)),
            ("Live", _capsules(hour * HOUR + 10)),  # a second revision of the same schema
            ("Empty", []),
        ]
    )
    assert valid == {(hour, "Live"): 3, (hour - 24, "Backfill"): 1, (hour, "Backfill"): 2}
