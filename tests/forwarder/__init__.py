"""Tests of the forwarder end to end: the pipeline's books, database outages and the spool,
and the counts it hands to Graphite and the store."""
