"""The observability core: per-schema counters, and what is recorded of them."""
