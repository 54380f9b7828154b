"""``el-monitor backup dump|verify|compare``: the backup chain (``compare`` in its own module).

``dump`` writes a new dated directory of per-table dumps with manifests and the completion
marker last (exit 0; 2 on an error, the directory then left partial).  ``verify`` checks every
hop of the catalog's ``[backup]`` and prints a line per finding and a summary; its exit status
is the verdict: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (``check_el_backup`` gives Icinga the
same one); a catalog that cannot be used is UNKNOWN too (3, one line on stderr).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from el_monitor.argtypes import utc_time
from el_monitor.cli.backup_compare import register_compare
from el_monitor.cli.options import Commands, add_config_option, add_db_option, command_group
from el_monitor.cli.stores import opened_store
from el_monitor.cli.table import format_table
from el_monitor.errors import UserError

if TYPE_CHECKING:
    from el_monitor.store import Store

__all__ = ["register"]


def register(commands: Commands) -> None:
    actions = command_group(
        commands,
        "backup",
        help="dump with manifests; verify the backup chain; compare a replica",
        description="The backup chain: per-table dumps with manifests and a completion "
        "marker, and their verification against schedule, size, integrity and the source; "
        "and a replica's event tables against its primary's.",
        kind="actions",
    )
    register_dump(actions)
    register_verify(actions)
    register_compare(actions)


def register_dump(actions: Commands) -> None:
    dump = actions.add_parser(
        "dump",
        help="dump tables into a new dated directory, with manifests",
        description="Per table: mariadb-dump --single-transaction of its id range, and a "
        "manifest (rows, id range, the source's checksum of the range, the file's sha256 and "
        "size, tool, exit status, start and end). The completion marker is written last: a "
        "directory without it is a partial dump. Exit 0 when complete, 2 on an error.",
    )
    add_db_option(dump, required=True, help="the database to dump: mysql://user@host:port/db")
    dump.add_argument("--to", required=True, metavar="DIR", help="backup root directory")
    dump.add_argument(
        "--table",
        action="extend",
        nargs="+",
        default=[],
        metavar="T",
        help="only these tables (default: every table of the database)",
    )
    dump.add_argument(
        "--no-compress", action="store_true", help="plain .sql files (default: gzip, level 1)"
    )
    dump.add_argument(
        "--dry-run", action="store_true", help="list the tables and id ranges; write nothing"
    )
    dump.set_defaults(run=_run_dump)


def register_verify(actions: Commands) -> None:
    verify = actions.add_parser(
        "verify",
        help="check every hop of the catalog's [backup] chain",
        description="Databases answer and replicas replicate; each dump directory's newest "
        "complete backup is fresh for its schedule, intact (sha256 against manifests), not "
        "shrunk against the previous one, not followed by a partial dump, and matches its "
        "source where the range is still whole. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    )
    add_config_option(verify, help="catalog TOML with [[backup.hop]] (default: el-monitor.toml)")
    verify.add_argument(
        "--hop", action="append", default=[], metavar="NAME", help="only this hop (repeatable)"
    )
    verify.add_argument(
        "--now", type=utc_time, metavar="TIME", help="judge as at this ISO time (UTC)"
    )
    verify.set_defaults(run=_run_verify)


def _run_dump(args: argparse.Namespace) -> int:
    from el_monitor.backup.dump import run_dump
    from el_monitor.progress import Progress

    with opened_store(args.db, doing="dump the database") as store:
        if args.dry_run:
            return _dry_run(store, args.table)
        try:
            with Progress("backup dump", unit="rows") as progress:
                result = run_dump(
                    store, Path(args.to), args.table, compress=not args.no_compress,
                    progress=progress,
                )  # fmt: skip
        except OSError as exc:
            raise UserError(f"backup dump: cannot write under {args.to}: {exc}") from None
    rows = [
        (m.table, _rows(m.rows), _ids(m.first_id, m.last_id), str(m.size), str(m.attempts))
        for m in result.manifests
    ]
    total = ("total", str(sum(m.rows or 0 for m in result.manifests)), "",
             str(sum(m.size for m in result.manifests)), "")  # fmt: skip
    print(
        format_table(
            ("table", "rows", "ids", "bytes", "attempts"),
            rows,
            numeric=(False, True, False, True, True),
            total=total,
        )
    )
    print(f"complete: {result.directory} ({result.seconds:.1f} s)")
    return 0


def _dry_run(store: Store, tables: list[str]) -> int:
    from el_monitor.backup.dump import dump_plan

    rows = [(name, _rows(count), _ids(*ids)) for name, ids, count in dump_plan(store, tables)]
    print(format_table(("table", "rows", "ids"), rows, numeric=(False, True, False)))
    print("dry run: nothing written")
    return 0


def _rows(rows: int | None) -> str:
    return "whole" if rows is None else str(rows)


def _ids(first: int | None, last: int | None) -> str:
    return "-" if first is None else f"{first}..{last}"


def _run_verify(args: argparse.Namespace) -> int:
    from el_monitor.backup.findings import Level, summary, worst
    from el_monitor.backup.verify import selected_hops, verify_chain
    from el_monitor.catalog.load import load_catalog
    from el_monitor.progress import Progress

    try:
        catalog = load_catalog(getattr(args, "config", None))
        hops = selected_hops(catalog, args.hop)
    except UserError as exc:
        print(f"el-monitor: backup verify: {exc}", file=sys.stderr)
        return int(Level.UNKNOWN)
    now = args.now or datetime.datetime.now(datetime.UTC)
    with Progress("backup verify", len(hops), unit="hops") as progress:
        findings = verify_chain(hops, now, progress, catalog=catalog)
    for finding in findings:
        print(finding.line())
    print(f"backup verify: {summary(findings)}")
    return int(worst(findings))
