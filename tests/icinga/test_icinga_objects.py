"""The Icinga 2 objects in icinga/, checked by a real icinga2 (Debian's icinga2-bin).

`icinga2 daemon -C` accepts commands.conf, notifications.conf and services.conf with
constants.conf.example copied in (ElMonitorBin = this venv's bin directory); the resolved
objects run the venv's console scripts, every argument is an option the plugin accepts and is
fed by an el_<plugin>_<param> variable.

Skips, saying why, when icinga2 is not installed; `make test` installs it through
scripts/ensure-monitoring.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from harness.icinga import IcingaDaemon, missing_reason

from .support import CONFIG_FILES, PLUGINS, ROOT, SERVICES, VENV_BIN, project_daemon

NOTIFY_OPTIONS = ["--type", "--host", "--service", "--state", "--output", "--perfdata", "--time"]

needs_icinga = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


def installed_scripts() -> set[str]:
    """The console scripts the installed el-monitor declares (its metadata, as pip left it)."""
    from importlib.metadata import distribution

    entry_points = distribution("el-monitor").entry_points
    return {e.name for e in entry_points if e.group == "console_scripts"}


def by_type(objects: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Objects of one type by full name (a Service is "host!service")."""
    return {o["properties"]["__name"]: o["properties"] for o in objects if o["type"] == kind}


@needs_icinga
def test_project_objects_validate(tmp_path: Path) -> None:
    daemon = project_daemon(VENV_BIN, directory=tmp_path / "icinga")
    ok, output = daemon.validate()
    assert ok, output
    assert "warning/" not in output, output
    objects = daemon.objects_dump()

    commands = by_type(objects, "CheckCommand")
    installed = installed_scripts()
    for name, (script, _module) in PLUGINS.items():
        assert commands[name]["command"] == [str(VENV_BIN / script)]
        if script not in installed:  # declared since the venv was installed: it cannot have it
            warnings.warn(f"{script} is not in this venv yet: pip install -e .", stacklevel=1)
            continue
        assert os.access(VENV_BIN / script, os.X_OK), f"{script} not installed: pip install -e ."
    notify = by_type(objects, "NotificationCommand")["el-monitor-notify"]
    assert notify["command"] == [str(VENV_BIN / "el-monitor"), "notify"]
    assert sorted(notify["arguments"]) == sorted(NOTIFY_OPTIONS)
    assert sorted(notify["env"]) == sorted(
        "EL_NOTIFY_" + option[2:].upper() for option in NOTIFY_OPTIONS
    )
    for option in NOTIFY_OPTIONS:  # the option and its variable carry the same macro
        env = "EL_NOTIFY_" + option[2:].upper()
        assert notify["arguments"][option]["value"] == notify["env"][env]

    services = by_type(objects, "Service")
    example = {name: services[f"eventlogging!{name}"] for name in SERVICES}
    for name, command in SERVICES.items():
        assert example[name]["check_command"] == command
        assert example[name]["check_interval"] == 60
        assert example[name]["vars"]["el_monitor"] is True
    notifications = by_type(objects, "Notification")
    for name in SERVICES:
        notification = notifications[f"eventlogging!{name}!el-monitor"]
        assert notification["command"] == "el-monitor-notify"
        assert notification["user_groups"] == ["el-monitor"]
    replication = services["eventlogging!el-replication"]  # the host sets el_replica_db
    assert replication["check_command"] == "el_replication"
    assert commands["el_replication"]["vars"]["el_replication_db"] == "$el_replica_db$"
    consumer = services["eventlogging!el-consumer"]  # the host sets el_nats_consumer
    assert consumer["check_command"] == "el_consumer"
    assert commands["el_consumer"]["vars"]["el_consumer_stream"] == "$el_nats_consumer$"
    host = by_type(objects, "Host")["eventlogging"]
    assert host["vars"]["el_graphite_url"] == "http://127.0.0.1:8080"  # ElGraphiteUrl


@needs_icinga
def test_arguments_match_the_plugins(tmp_path: Path) -> None:
    """Every argument is an option of its plugin, fed by an el_<plugin>_<param> variable."""
    daemon = project_daemon(VENV_BIN, directory=tmp_path / "icinga")
    ok, output = daemon.validate()
    assert ok, output
    commands = by_type(daemon.objects_dump(), "CheckCommand")
    for name, (_script, module_name) in PLUGINS.items():
        module = importlib.import_module(module_name)
        accepted = {s for a in module.build_parser()._actions for s in a.option_strings}
        for option, spec in commands[name]["arguments"].items():
            assert option in accepted, f"{name}: {option} is not an option of {module_name}"
            macro = spec.get("value") or spec.get("set_if")
            assert macro.startswith(f"${name}_") and macro.endswith("$"), (name, option, macro)


def test_console_scripts_are_declared() -> None:
    """ElMonitorBin + "/check_el_*" only works when pip installs those console scripts."""
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for script, module in PLUGINS.values():
        assert script in scripts, f"pyproject.toml [project.scripts] lacks {script}"
        assert scripts[script] == f"{module}:main"
    assert "el-monitor" in scripts


@needs_icinga
def test_validate_catches_a_missing_constant(tmp_path: Path) -> None:
    """validate() is not vacuous: without constants.conf, ElMonitorBin is undefined."""
    daemon = IcingaDaemon(config_files=CONFIG_FILES, directory=tmp_path / "icinga")
    ok, output = daemon.validate()
    assert not ok
    assert "ElMonitorBin" in output, output
