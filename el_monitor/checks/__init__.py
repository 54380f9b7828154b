"""Icinga check plugins built on nagiosplugin: one module per plugin."""
