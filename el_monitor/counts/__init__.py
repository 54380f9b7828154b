"""The observability core: per-schema counters by processing time, for rates (``counters``),
and the counts by the events' own hour that go to the store for the daily report (``hourly``)."""
