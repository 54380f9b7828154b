"""The observability core: per-schema counters (``counters``), and the recorder that adds
them to the store's counts tables for the daily report (``recorder``)."""
