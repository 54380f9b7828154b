"""The names EventLogging gives things, each pattern written once.

A schema name is 1 to 63 of ``A-Z a-z 0-9 _ -``; a revision may also hold dots (``1.7.0``).  A
forwarder instance has the shape of a schema name: it is one Graphite node and a key of the
report's counts table, whose columns are sized for schema names.
"""

from __future__ import annotations

import re

SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}")
REVISION = re.compile(r"[A-Za-z0-9._-]{1,63}")
INSTANCE_NAME = SCHEMA_NAME


def is_schema_name(value: object) -> bool:
    """Whether ``value`` (anything, from the wire or a file) is a well-formed schema name."""
    return type(value) is str and SCHEMA_NAME.fullmatch(value) is not None


def is_revision(value: object) -> bool:
    """Whether ``value`` is a well-formed revision (``17325565``, ``1.7.0``)."""
    return type(value) is str and REVISION.fullmatch(value) is not None


def revision_key(revision: str) -> tuple[tuple[int, int | str], ...]:
    """Sorts revisions as their authors count: ``1.10.0`` after ``1.9.0``, ``17325565`` after
    ``9000000`` (digit runs compare as numbers, the rest as text)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.findall(r"[0-9]+|[^0-9]+", revision)
    )


def short_hostname() -> str:
    """This host's name without its domain: the default ``recvFrom`` and forwarder instance."""
    import socket  # here: the check plugins load these patterns and must start fast

    return socket.gethostname().split(".")[0] or "localhost"
