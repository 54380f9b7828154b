"""``el-monitor``: the only place that prints for users and exits.

``main`` builds the parser and turns errors into one line and an exit status; each command is
one module (``forward``, which runs one forwarder with ``forwarding`` and several under a
supervisor with ``forward_workers``; ``catalog``, ``schemas``, ``optout``, ``report``,
``notify``, ``validate``, ``errors``, ``devserver``...) and they share ``options`` (option
groups), ``stores`` (opening a database or failing in one line), ``table`` (the one plain-text
table), ``signals`` (SIGINT/SIGTERM as a stop event) and ``verdict_text`` (a verdict as text).
"""
