"""The private icinga2's configuration, and the objects it resolved from it.

What the configuration is made of (found out on icinga2 2.13.6, Debian 12):

- Directories: every path icinga2 writes to is moved under one directory with
  `-DConfiguration.<Name>=...` (DIRS: DataDir, LogDir, CacheDir, SpoolDir, InitRunDir,
  ConfigDir; the state, modified-attributes, objects, vars and pid paths follow from those).
  The deprecated `-DLocalStateDir`/`-DRunDir`/`-DSysconfDir` still work but warn. Nothing under
  /etc/icinga2, /var/lib/icinga2, /var/cache/icinga2, /var/log/icinga2 or /run/icinga2 is read
  or written.
- One icinga2.conf (main_config): NodeName/ZoneName with their Endpoint and Zone (the
  ApiListener needs them), `include <itl>` (the "dummy" command), the features as objects
  (CheckerComponent, NotificationComponent, a FileLogger, the ApiListener and an ApiUser), then
  `constants.conf`, the given files and the test's own objects. No features-enabled directory,
  no system conf.d.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

DIRS = {  # Configuration.<name> -> subdirectory
    "DataDir": "lib",
    "LogDir": "log",
    "CacheDir": "cache",
    "SpoolDir": "spool",
    "InitRunDir": "run",
    "ConfigDir": "etc",
}


def icinga_string(value: str) -> str:
    """A Python string as an Icinga 2 DSL string literal."""
    return json.dumps(value)


def constants_from_example(example: str | os.PathLike[str], overrides: Mapping[str, str]) -> str:
    """The text of a constants.conf.example with some `const Name = ...` values replaced.

    Each override must name a constant the example defines (so the example stays complete);
    the values are Python strings, written as Icinga string literals.
    """
    text = Path(example).read_text()
    for name, value in overrides.items():
        pattern = re.compile(rf"(?m)^(\s*const\s+{re.escape(name)}\s*=\s*).*$")
        if not pattern.search(text):
            raise KeyError(f"{example} defines no constant {name}")
        text = pattern.sub(lambda m, v=value: m.group(1) + icinga_string(v), text)
    return text


def constants_text(constants: str | Mapping[str, str]) -> str:
    """constants.conf: the text as given, or `const Name = "value"` for each of a mapping."""
    if isinstance(constants, Mapping):
        return "".join(
            f"const {name} = {icinga_string(value)}\n" for name, value in constants.items()
        )
    return constants


def main_config(node_name: str, log_severity: str, api: str, includes: Iterable[Path]) -> str:
    """The text of icinga2.conf; `api` is api_objects() or "" (as validate() needs)."""
    node = icinga_string(node_name)
    return (
        f"""\
/* A private icinga2 for el-monitor's tests (written by tests/harness/icinga_config.py). */
const NodeName = {node}
const ZoneName = NodeName
object Endpoint NodeName {{ }}
object Zone ZoneName {{ endpoints = [ NodeName ] }}

include <itl>

object CheckerComponent "checker" {{ }}
object NotificationComponent "notification" {{ enable_ha = false }}
object FileLogger "main-log" {{
	severity = {icinga_string(log_severity)}
	path = LogDir + "/icinga2.log"
}}
"""
        + api
        + "\n"
        + "".join(f"include {icinga_string(str(path))}\n" for path in includes)
    )


def api_objects(port: int, user: str, password: str) -> str:
    """The ApiListener on 127.0.0.1:`port` and an ApiUser allowed everything."""
    return f"""\
object ApiListener "api" {{
	bind_host = "127.0.0.1"
	bind_port = {port or 5665}
	accept_config = false
	accept_commands = false
}}
object ApiUser {icinga_string(user)} {{
	password = {icinga_string(password)}
	permissions = [ "*" ]
}}
"""


def read_objects(path: Path) -> list[dict[str, Any]]:
    """The objects of icinga2's objects file (icinga2.debug, netstrings: <length>:<json>,)."""
    data = path.read_bytes()
    objects, pos = [], 0
    while pos < len(data):
        colon = data.index(b":", pos)
        length = int(data[pos:colon])
        objects.append(json.loads(data[colon + 1 : colon + 1 + length]))
        pos = colon + 1 + length + 1
    return objects
