"""The catalog's reference, every key of every table, as ``el-monitor catalog reference`` prints
it and the README holds it.

It cannot drift from what the loader accepts: each table's keys are the loader's own tuples
(``TOP_KEYS``, ``POLICY_KEYS``, ``SMTP_KEYS``…) and rendering fails when a key has no meaning
written here or a meaning names a key the loader does not take; defaults come from the
settings' dataclasses.  Only the words are written by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

from el_monitor.catalog.backup_settings import BACKUP_KEYS, HOP_KEYS
from el_monitor.catalog.load import TOP_KEYS
from el_monitor.catalog.mail_settings import ALERT_KEYS, SMTP_KEYS
from el_monitor.catalog.model import Aggregate, BackupHop, Extension, SchemaPolicy
from el_monitor.catalog.policies import AGGREGATE_KEYS, EXTENSION_KEYS, POLICY_KEYS
from el_monitor.mail.settings import AlertSettings, SmtpSettings

__all__ = ["reference_markdown"]

_TOP = {
    "secret_file": "file holding the site secret opt-out hashes are keyed with "
    "(else `--secret-file` or `EL_MONITOR_SECRET`)",
    "optout_file": "the opt-out list (default: `el-monitor-optout.jsonl` in the state directory)",
    "ops": "addresses that get alerts and reports for schemas without owners",
    "smtp": "table: the mail server (below)",
    "alerts": "table: alert mails and the daily report (below)",
    "backup": "table: the backup chain (below)",
    "defaults": "table: what every schema gets unless its own table says otherwise "
    "(the keys of `[schema.NAME]`)",
    "schema": "tables `[schema.NAME]`: one schema's policy (below)",
}
_POLICY = {
    "owners": "addresses alerted about this schema and sent its part of the daily report",
    "sample_rate": "keep 1 in N events (1: all)",
    "sample_key": "fields whose values decide sampling, so events sharing them are kept or "
    "dropped together (default: the uuid)",
    "max_rate": "events/s before the owners are alerted",
    "retention_days": "days rows are kept before they are deleted or sanitized",
    "keep": "fields that survive sanitizing (without it rows past retention are deleted)",
    "hash": "tokens kept as HMAC-SHA256 under a salt that rotates every 90 days",
    "aggregate": "rollups computed before rows lose detail (`[[schema.NAME.aggregate]]`, below)",
    "extensions": "dated longer retention (`[[schema.NAME.extensions]]`, below)",
    "user_fields": "fields that identify a user, matched against the opt-out list",
}
_AGGREGATE = {
    "name": "the rollup's name: table `rollup_<Schema>_<name>`",
    "dimensions": "fields (or capsule `wiki`) to group by",
    "period": "`hour`, `day` or `month`",
    "percentiles": "numeric fields given count, p50, p75 and p95",
}
_EXTENSION = {
    "until": "last day it applies (a date)",
    "reason": "why, with the ticket",
    "retention_days": "days rows are kept while it applies",
    "fields": "only these fields are kept longer (default: whole rows)",
}
_SMTP = {
    "host": "mail server",
    "port": "its port",
    "security": "`none`, `starttls` or `tls`",
    "user": "login, when the server asks for one",
    "password_file": "file holding the password (else `EL_MONITOR_SMTP_PASSWORD`)",
    "mail_from": "sender address (default: el-monitor@ this host's name)",
    "timeout": "seconds for each exchange with the server",
}
_ALERTS = {
    "graphite_url": "graphite-web's render API, where graphs come from",
    "graphite_link": "base of the links in mails (default: `graphite_url`)",
    "graphite_prefix": "metric prefix the forwarders send under",
    "runbook_url": "link in every alert; may name `{schema}`, `{service}` and `{host}`",
    "repeat_interval": "seconds before the same schema and state mails again",
    "flap_changes": "state changes within `flap_window` that make one summary mail",
    "flap_window": "seconds",
    "state_file": "where `notify` remembers what it mailed",
    "graph_hours": "hours an alert's graph shows",
    "report_recipients": "who gets the whole daily report (default: `ops`)",
}
_BACKUP = {"hop": "array of tables `[[backup.hop]]`: the hops of the chain (below)"}
_HOP = {
    "name": "the hop's name, used in findings and by `source`",
    "kind": "`primary`, `replica` or `dumps`",
    "db": "database URL without a password (primary and replica)",
    "password_file": "file holding that database's password",
    "dir": "directory of dated dumps, local or mounted (dumps)",
    "source": "the database hop its dumps are compared with (dumps)",
    "schedule": "how old the newest complete dump may be, e.g. `26h` (dumps)",
    "warn_shrink": "percent smaller than the previous dump that warns (dumps)",
    "crit_shrink": "percent smaller that is critical (dumps)",
}


class Table(NamedTuple):
    heading: str
    keys: tuple[str, ...]  # what the loader accepts
    meanings: Mapping[str, str]
    defaults: Any  # the dataclass whose field defaults apply, or None


TABLES = (
    Table("top level", TOP_KEYS, _TOP, None),
    Table("`[defaults]` and `[schema.NAME]`", POLICY_KEYS, _POLICY, SchemaPolicy),
    Table("`[[schema.NAME.aggregate]]`", AGGREGATE_KEYS, _AGGREGATE, Aggregate),
    Table("`[[schema.NAME.extensions]]`", EXTENSION_KEYS, _EXTENSION, Extension),
    Table("`[smtp]`", SMTP_KEYS, _SMTP, SmtpSettings),
    Table("`[alerts]`", ALERT_KEYS, _ALERTS, AlertSettings),
    Table("`[backup]`", BACKUP_KEYS, _BACKUP, None),
    Table("`[[backup.hop]]`", HOP_KEYS, _HOP, BackupHop),
)


def reference_markdown() -> str:
    """Every table's keys with their default and meaning, as Markdown tables; ValueError when
    the words written here and the loader's keys disagree."""
    out = []
    for table in TABLES:
        if set(table.keys) != set(table.meanings):
            missing = sorted(set(table.keys) - set(table.meanings))
            extra = sorted(set(table.meanings) - set(table.keys))
            raise ValueError(f"{table.heading}: no meaning for {missing}, no such key {extra}")
        out += [f"**{table.heading}**", "", "| key | default | meaning |", "|---|---|---|"]
        defaults = _defaults(table.defaults)
        out += [f"| `{key}` | {defaults.get(key, '-')} | {table.meanings[key]} |"
                for key in table.keys]  # fmt: skip
        out.append("")
    return "\n".join(out)


def _defaults(cls: Any) -> dict[str, str]:
    if cls is None:
        return {}
    found = {}
    for field in dataclasses.fields(cls):
        value = field.default
        if value is dataclasses.MISSING or value in (None, (), ""):
            continue
        found[field.name] = f"`{value:g}`" if isinstance(value, float) else f"`{value}`"
    return found
