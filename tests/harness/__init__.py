"""Test harnesses that run real servers from Debian's packages on private ports and directories.

Nothing here touches the system's configuration or data (/etc/carbon, /var/lib/graphite, ...):
every server gets its own temporary directory, free 127.0.0.1 ports, and is stopped with its
whole process group when the test session ends.
"""
