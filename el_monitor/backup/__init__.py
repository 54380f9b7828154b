"""Backups and replicas: consistency compare of a replica with its primary (``compare``); the
backup chain: dated per-table dumps with manifests and a completion marker written last
(``dump``, ``manifest``), their verification against schedule, size, integrity and the source
(``verify``, ``dumps_hop``, ``source``), and the restore drill into a scratch database
(``drill``).  ``backup verify`` and ``check_el_backup`` share one verdict: ``verify_chain``
returns ``Finding`` values (``findings``) that each prints its own way.
"""
