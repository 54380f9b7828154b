"""Retention: old events purged, sanitized to an allowlist or aggregated, logs cleaned too."""
