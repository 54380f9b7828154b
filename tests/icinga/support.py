"""What the Icinga tests share: where the project's Icinga 2 objects are, which plugin each
CheckCommand and service runs, and a private icinga2 (tests/harness/icinga.py) set up with them.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path
from typing import Any

from harness.icinga import IcingaDaemon
from harness.icinga_config import constants_from_example

ROOT = Path(__file__).resolve().parents[2]
ICINGA_DIR = ROOT / "icinga"
CONFIG_FILES = [ICINGA_DIR / f"{name}.conf" for name in ("commands", "notifications", "services")]
CONSTANTS_EXAMPLE = ICINGA_DIR / "constants.conf.example"
CATALOG = ROOT / "examples" / "el-monitor.toml"
VENV_BIN = Path(sysconfig.get_path("scripts"))
# CheckCommand -> (console script, module with main(argv))
PLUGINS = {
    "el_rate": ("check_el_rate", "el_monitor.checks.rate"),
    "el_schema_rate": ("check_el_schema_rate", "el_monitor.checks.schema_rate"),
    "el_invalid": ("check_el_invalid", "el_monitor.checks.invalid"),
    "el_inserted": ("check_el_inserted", "el_monitor.checks.inserted"),
    "el_silence": ("check_el_silence", "el_monitor.checks.silence"),
    "el_retention": ("check_el_retention", "el_monitor.checks.retention"),
    "el_backup": ("check_el_backup", "el_monitor.checks.backup"),
    "el_replication": ("check_el_replication", "el_monitor.checks.replication"),
    "el_drill": ("check_el_drill", "el_monitor.checks.drill"),
    "el_consumer": ("check_el_consumer", "el_monitor.checks.consumer"),
}
SERVICES = {  # service (services.conf) -> CheckCommand
    "el-rate": "el_rate",
    "el-schema-rate": "el_schema_rate",
    "el-invalid": "el_invalid",
    "el-inserted": "el_inserted",
    "el-silence": "el_silence",
}


def project_daemon(bin_dir: Path, **kwargs: Any) -> IcingaDaemon:
    """An IcingaDaemon with the project's objects and constants.conf.example (ElMonitorBin set)."""
    overrides = {"ElMonitorBin": str(bin_dir), **kwargs.pop("constants", {})}
    return IcingaDaemon(
        config_files=CONFIG_FILES,
        constants=constants_from_example(CONSTANTS_EXAMPLE, overrides),
        **kwargs,
    )
