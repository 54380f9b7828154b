"""Backup and recovery: backfill of the database from the forwarder's event logs."""
