"""What can become of an event, as every layer counts it, and the scope of all schemas at once.

The books always balance: raw = valid + invalid + sampled_out + opted_out, and the valid ones
are inserted, found already stored (``duplicate``: a replay, or another event reusing a uuid)
or refused by the store (a ``store`` error); ``spooled`` counts those that waited in the
spool.  The counters, the store's counts table, the Graphite metric names and the report all
use these names in this order.  Kept apart from the counters so that what only needs the
names (the check plugins, via the metric names) does not load the counting machinery.
"""

from __future__ import annotations

MEASURES = (
    "raw", "valid", "invalid", "sampled_out", "opted_out", "inserted", "duplicate", "spooled",
)  # fmt: skip
OVERALL = "overall"  # the scope that sums every schema (and the lines no schema was named for)
# Events the event logs (``--log-dir``) could not hold: a health count of the forwarder kept
# overall only and outside the books, since such events are stored all the same.
NOT_LOGGED = "not_logged"
# What a source lost or refused before the pipeline saw it (``SourceTally``), kept overall only
# and outside the books, which start at ``raw``: lines received = raw + dropped.
DROPPED = "dropped"  # lines a receiver could not queue (UDP, ZeroMQ: the queue was full)
DAMAGED = "damaged"  # stream messages that were damaged records, terminated (JetStream)
REFUSED = "refused"  # requests answered 4xx, the client's fault (HTTP beacon)
BUSY = "busy"  # requests answered 503 while the queue was full; clients retry (HTTP beacon)
# Datagrams the kernel dropped before the receiver read them, its socket buffer full (UDP):
# never received, so outside even ``dropped``.
KERNEL_DROPPED = "kernel_dropped"
SOURCE_LOSSES = (DROPPED, DAMAGED, REFUSED, BUSY, KERNEL_DROPPED)
OVERALL_ONLY = (NOT_LOGGED, *SOURCE_LOSSES)
