"""Tests of retention (el_monitor.retention): log files and stored error examples."""
