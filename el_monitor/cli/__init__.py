"""The el-monitor command line: one module per command."""
