"""Backup and failover: the replication heartbeat and lag, consistency compare, dumps and
manifests, verify, restore and failover drills, backfill.  Their SQL is in ``el_monitor.store``
(``store.replication`` for the replication primitives, ``store.dumps`` for the dumps').

The backup chain: dated per-table dumps with manifests and a completion marker written last
(``dump``, ``manifest``, ``client`` runs the MariaDB tools), their verification against
schedule, size, integrity and the source (``verify``, ``dumps_hop``, ``source``, ``hops``), and
the restore drill into a scratch database (``drill``).  ``backup verify`` and
``check_el_backup`` share one verdict: ``verify_chain`` returns ``Finding`` values
(``findings``) that each prints its own way.
"""
