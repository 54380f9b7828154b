"""``el-monitor drill restore``: restore the newest complete backup into a scratch database on
``--db``'s server, compare it with its manifests and with the source, time every step, and
drop the scratch database afterwards (on failure, Ctrl-C and SIGTERM too).

Exit status: 0 every table restored as its manifest says (and as the source holds it where
the range is still whole); 1 a warning; 2 a table that does not restore or differs, or an
error (one line); 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from el_monitor.cli.options import Commands, add_config_option, add_db_option
from el_monitor.cli.table import format_table
from el_monitor.errors import UserError

if TYPE_CHECKING:
    from el_monitor.backup.drill import DrillReport
    from el_monitor.catalog.model import BackupHop
    from el_monitor.store import Store

__all__ = ["register_restore"]


def register_restore(drills: Commands) -> None:
    restore = drills.add_parser(
        "restore",
        help="load the newest complete backup into a scratch database and compare it",
        description="Loads the newest complete backup (of the catalog's dumps hop, or under "
        "--from) into a new uniquely named database on --db's server, compares each table "
        "with its manifest (id range, rows, checksum) and with the source for the range it "
        "covers, reports how long each step took, and drops the scratch database afterwards, "
        "also on failure or Ctrl-C. Exit 0 passed, 1 warning, 2 failed.",
    )
    add_config_option(restore, help="catalog TOML with [[backup.hop]] (default: el-monitor.toml)")
    restore.add_argument(
        "--hop", metavar="NAME", help="the dumps hop to drill (default: the catalog's first)"
    )
    restore.add_argument(
        "--from",
        dest="from_",
        metavar="DIR",
        help="a backup root (its newest complete backup) or one backup directory",
    )
    restore.add_argument(
        "--source",
        metavar="URL",
        help="the database dumped, to compare with (default: the hop's source; none: skip)",
    )
    add_db_option(
        restore,
        required=True,
        help="the scratch server: mysql://user@host:port/db (any database the account can "
        "reach; the scratch database is created beside it)",
    )
    restore.set_defaults(run=_run_restore)


def _run_restore(args: argparse.Namespace) -> int:
    from el_monitor.backup.drill import describe, find_backup, restore_drill
    from el_monitor.backup.findings import summary, worst
    from el_monitor.backup.hops import open_database
    from el_monitor.progress import Progress
    from el_monitor.store import StoreError, StoreUnavailable
    from el_monitor.store.dumps import SCRATCH_PREFIX

    root, source_url = _target(args)
    backup = find_backup(root)
    source: Store | None = None
    if source_url is not None:
        opened = open_database(source_url)
        if isinstance(opened, str):
            raise UserError(f"drill restore: the source: {opened} (check --source)")
        source = opened
    tables = len(backup.marker.tables) if backup.marker else None
    try:
        with _sigterm_interrupts(), Progress("drill restore", tables, unit="tables") as progress:
            report = restore_drill(backup, args.db, source, progress)
    except (StoreUnavailable, StoreError) as exc:
        raise UserError(
            f"drill restore: {exc} (a scratch database {SCRATCH_PREFIX}... may be left on "
            "the --db server: drop it by hand)"
        ) from None
    finally:
        if source is not None:
            source.close()
    print(describe(report))
    for finding in report.findings:
        print(finding.line())
    _print_steps(report)
    print(f"drill restore: {summary(report.findings)}")
    return int(worst(report.findings))


def _target(args: argparse.Namespace) -> tuple[Path, str | None]:
    """The backup root and the source URL: ``--from``/``--source``, else the catalog hop's."""
    if args.from_ is not None:
        return Path(args.from_), args.source
    from el_monitor.backup.hops import hop_url
    from el_monitor.catalog.load import load_catalog
    from el_monitor.catalog.model import DUMPS

    catalog = load_catalog(getattr(args, "config", None))
    dumps = [h for h in catalog.backup if h.kind == DUMPS]
    hop: BackupHop | None = next((h for h in dumps if h.name == args.hop), None)
    if args.hop is None and dumps:
        hop = dumps[0]
    if hop is None or hop.dir is None:
        names = ", ".join(h.name for h in dumps) or "none"
        raise UserError(f"drill restore: no dumps hop {args.hop or ''} in the catalog "
                        f"(dumps hops: {names}); give --from DIR or --config")  # fmt: skip
    source = args.source
    if source is None and hop.source is not None:
        source_hop = catalog.hop(hop.source)
        source = hop_url(source_hop) if source_hop is not None else None
    return Path(hop.dir), source


def _print_steps(report: DrillReport) -> None:
    rows = [(step, f"{seconds:.2f}") for step, seconds in report.steps]
    print(format_table(("step", "seconds"), rows, numeric=(False, True)))
    state = "dropped" if report.dropped else "NOT dropped: drop it by hand"
    print(f"scratch database {report.scratch}: {state}")


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (systemd stopping the unit) as Ctrl-C, so the scratch database is dropped."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
