"""Tests of the input sources (el_monitor.ingest.sources): line cutting, opening URIs,
following a file, UDP and the HTTP beacon."""
