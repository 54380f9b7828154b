"""Tests of the catalog (el_monitor.catalog): loading and its errors, policies, and the
``catalog check`` and ``schemas`` commands."""
