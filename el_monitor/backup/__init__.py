"""Backups and replicas: consistency compare of a replica with its primary (``compare``)."""
