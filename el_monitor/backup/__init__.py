"""Backup and failover: the replication heartbeat and lag, consistency compare, dumps and
manifests, verify, restore and failover drills, backfill.  Their SQL is in ``el_monitor.store``
(``store.replication`` for the replication primitives)."""
