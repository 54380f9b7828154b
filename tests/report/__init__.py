"""Tests of ``el-monitor report daily`` (el_monitor.report): content, the command and its mail,
and the report in a browser."""
