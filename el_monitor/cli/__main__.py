"""``python -m el_monitor.cli``: the same as the ``el-monitor`` script."""

from el_monitor.cli.main import main

raise SystemExit(main())
