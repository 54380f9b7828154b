"""Tests of user opt-out (el_monitor.optout): identities, the list file and its commands,
the matcher, and the purge of stored rows."""
