"""What Icinga says happened: one notification as a typed value, and the kinds of notification.

Icinga's NotificationCommand (``icinga/notifications.conf``) passes the facts as flags or as
``EL_NOTIFY_<FIELD>`` environment variables; :meth:`Notification.from_sources` reads either and
refuses, in one line, a notification that cannot be acted on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from el_monitor.errors import UserError

__all__ = [
    "ACKNOWLEDGEMENT",
    "ENV",
    "FIELDS",
    "FLAPPING",
    "PROBLEM",
    "RECOVERY",
    "SERVICE_LEVEL",
    "Notification",
]

# Icinga's notification types that el-monitor treats apart; FLAPPING is el-monitor's own kind
# of mail (a summary sent instead of every change), not a type Icinga passes.
PROBLEM, RECOVERY, ACKNOWLEDGEMENT, FLAPPING = "PROBLEM", "RECOVERY", "ACKNOWLEDGEMENT", "FLAPPING"
# Stands for "no schema" wherever schemas are listed: an alert about the service as a whole.
SERVICE_LEVEL = "*"

FIELDS = ("type", "host", "service", "state", "output", "perfdata", "time")
ENV = MappingProxyType({name: f"EL_NOTIFY_{name.upper()}" for name in FIELDS})
_WORD = re.compile(r"[A-Z][A-Z_]{0,31}")


@dataclass(frozen=True)
class Notification:
    """What Icinga says happened.  ``type`` and ``state`` are upper-case words."""

    type: str
    host: str
    service: str
    state: str
    output: str = ""
    perfdata: str = ""
    time: float | None = None
    time_note: str = ""  # why the mail shows the time it was sent instead of ``time``

    @classmethod
    def from_sources(
        cls, given: Mapping[str, object | None], env: Mapping[str, str]
    ) -> Notification:
        """Each field from ``given`` (the flags) if set, else from ``EL_NOTIFY_<FIELD>``."""
        values: dict[str, str] = {}
        for name in FIELDS:
            value = given.get(name)
            if value is None:
                value = env.get(ENV[name])
            values[name] = "" if value is None else str(value)
        for name in ("type", "service", "state"):
            if not values[name].strip():
                raise UserError(
                    f"no notification {name}: give --{name} or set {ENV[name]} "
                    "(the NotificationCommand in icinga/notifications.conf sets both)"
                )
        kind = values["type"].strip().upper()
        state = values["state"].strip().upper()
        for name, word in (("type", kind), ("state", state)):
            if not _WORD.fullmatch(word):
                raise UserError(f"--{name} {values[name]!r} is not a word such as PROBLEM or OK")
        stamp, time_note = _unix_time(values["time"])
        return cls(
            type=kind,
            host=values["host"].strip() or "-",
            service=values["service"].strip(),
            state=state,
            output=values["output"],
            perfdata=values["perfdata"],
            time=stamp,
            time_note=time_note,
        )


def _unix_time(text: str) -> tuple[float | None, str]:
    """``--time`` as the ``time`` and ``time_note`` fields (None when not given).

    Text that is not a decimal number (``yesterday``, ``nan``, ``inf``) is a mistake made by
    hand, since Icinga's ``$icinga.timet$`` is always digits: a UserError.  A number no
    calendar can show (negative, past year 9999, ``1e20``) is a time the alert itself carries,
    and the alert must still go out: no time, and a note saying the mail shows when it was sent.
    """
    text = text.strip()
    if not text:
        return None, ""
    if not _DECIMAL.fullmatch(text):
        raise UserError(f"--time {text!r} is not a Unix time in seconds, such as 1764720000")
    stamp = float(text)
    if not 0 <= stamp < _YEAR_10000:
        shown = text if len(text) <= 40 else text[:40] + "…"
        return None, (
            f"The notification gave the time {shown!r}, which is not a date between 1970 "
            "and 9999; the time shown is when this mail was sent."
        )
    return stamp, ""


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_YEAR_10000 = 253402300800.0  # 10000-01-01T00:00:00Z: datetime ends the day before
