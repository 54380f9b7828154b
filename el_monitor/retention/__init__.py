"""Retention: purge, sanitize, hash, aggregate, extensions, log-file cleaning, schema review."""
