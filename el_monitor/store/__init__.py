"""Schema → table mapping and the SQLite / MySQL writers."""
