"""Tests of ``el-monitor notify`` (el_monitor.notify): routing, remembered state, the mail sent,
and redaction."""
