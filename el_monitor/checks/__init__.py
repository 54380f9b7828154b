"""Icinga check plugins built on nagiosplugin, split as it splits its concepts.

``options`` (command line), ``acquire`` (render queries, the answer as a ``Frame``), ``judge``
(contexts and verdicts), ``output`` (numbers, perfdata, status line) and ``runtime`` (``-t``,
exit codes) are shared; each plugin (``rate``, ``schema_rate``, ``invalid``, ``inserted``,
``silence`` on Graphite; ``retention`` on the database) is one module on top.
"""
