"""Retention: old rows purged or sanitized to an allowlist (tokens hashed), dated extensions,
rollups kept after the rows go, log files cleaned, and the review of new schemas."""
