"""Tests of the check_el_* plugins (el_monitor.checks): one module per plugin, what they share
(runtime, options, output), and the plugins against a real graphite-web."""
