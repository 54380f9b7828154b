"""The catalog: per-schema policy (TOML), loaded with line numbers, and its checker."""
