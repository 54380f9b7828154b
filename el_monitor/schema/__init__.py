"""Schema registries, draft translation and the compiled validators."""
