"""What a mail tells its reader to do, by the kind of mail and then the kind of service."""

from __future__ import annotations

from el_monitor.notify.notification import ACKNOWLEDGEMENT, FLAPPING, RECOVERY

__all__ = ["ACTIONS", "DEFAULT_ACTIONS", "actions"]

# What to do, by the service's kind; the first matching keyword wins.
ACTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "invalid",
        (
            "Open the invalid events log (or the daily report) for the schema: the most common "
            "error names the JSON path that fails validation.",
            "Fix the producer, or publish a new schema revision if the data is right and the "
            "schema is not. Invalid events are not stored.",
        ),
    ),
    (
        "inserted",
        (
            "Check that the forwarder is running and can reach the database (its log names the "
            "error; spooled batches are retried).",
            "Look for locks, a full disk or replication lag on the database server.",
        ),
    ),
    (
        "silence",
        (
            "Check that every forwarder is running and can reach carbon (el-monitor forward "
            "--graphite); a canary schema at zero can mean its producer stopped sending.",
        ),
    ),
    (
        "rate",
        (
            "Find what changed: a deploy, a new client or a bot multiplying the events (the "
            "graph shows when it started).",
            "If the volume is expected, raise the schema's max_rate in the catalog, or sample it "
            "(sample_rate, keep 1 in N); otherwise ask the producer to stop the burst.",
        ),
    ),
)
DEFAULT_ACTIONS = ("Look at the graph and the status line, then at the forwarder's logs.",)


def actions(kind: str, service: str) -> tuple[str, ...]:
    """What the reader should do, by the kind of mail and then the kind of service."""
    if kind == RECOVERY:
        return (
            "Nothing to do: the check is OK again. Follow up on the cause if it is not "
            "understood yet.",
        )
    if kind == ACKNOWLEDGEMENT:
        return (
            "Someone acknowledged the problem in Icinga and is working on it; reminders "
            "stop until it recovers.",
        )
    if kind == FLAPPING:
        return (
            "The service keeps changing state: mails are held back until it settles. "
            "Look at the graph for a value hovering around the threshold.",
        )
    lowered = service.lower()
    for keyword, advice in ACTIONS:
        if keyword in lowered:
            return advice
    return DEFAULT_ACTIONS
