"""Error values shared by every layer.

``EventError`` is data, not an exception: a bad event becomes one of these, is counted and
written to the invalid log, and the forwarder moves on.  ``UserError`` is the exception for
mistakes a user can fix (bad flag, unreadable directory, unreachable server); the CLI turns it
into one line and a non-zero exit.
"""

from __future__ import annotations

from typing import NamedTuple

PARSE = "parse"
VALIDATION = "validation"
UNKNOWN_SCHEMA = "unknown-schema"
STORE = "store"  # valid event the existing table cannot hold (missing column, value too big)
DUPLICATE = "duplicate"  # its uuid is stored already, with different content


class EventError(NamedTuple):
    """EventLogging's EventError record: why one raw event was not stored."""

    raw_event: str
    message: str
    code: str
    schema: str | None = None
    revision: str | None = None
    path: str | None = None  # JSON path of the first validation error

    def to_record(self) -> dict:
        return {
            "rawEvent": self.raw_event,
            "message": self.message,
            "code": self.code,
            "schema": self.schema,
            "revision": self.revision,
        }


class UserError(Exception):
    """A problem the user can fix; its message is one line naming the thing and the fix."""


# The optional dependencies (pyproject's extras): module imported -> (distribution, extra).
EXTRAS = {"nats": ("nats-py", "nats"), "zmq": ("pyzmq", "zmq")}


def missing_extra(exc: ModuleNotFoundError, what: str) -> UserError:
    """The one line for ``what`` when the optional dependency it imports is not installed;
    any other missing module is not the user's to install, so it is raised again."""
    if exc.name not in EXTRAS:
        raise exc
    distribution, extra = EXTRAS[exc.name]
    return UserError(f"{what} needs {distribution}: pip install 'el-monitor[{extra}]'")


class SchemaError(UserError):
    """A schema file that cannot be read or compiled."""
