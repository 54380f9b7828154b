"""``el-monitor backup compare``: is a replica's copy of the event tables its primary's?

Exit status (also in --help and the README): 0 the same; 1 a difference (a chunk, or a table
missing on one side, or its columns); 2 an error; 3 the replica does not replicate from this
primary (nothing compared); 4 tables skipped, nothing else wrong; 5 replication stopped (the
comparison still ran: what it found is listed, since a stopped replica differs by what it has
not applied, this status comes before 1).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from el_monitor.argtypes import non_negative_int, positive_float, positive_int
from el_monitor.cli.options import Commands
from el_monitor.cli.stores import opened_store
from el_monitor.cli.table import format_table

if TYPE_CHECKING:
    from el_monitor.backup.compare import TableResult
    from el_monitor.backup.replication import Replication

__all__ = ["register_compare"]

SAME, DIFFERENT, ERROR, NOT_A_REPLICA, SKIPPED, STOPPED = 0, 1, 2, 3, 4, 5
EXIT_HELP = (
    "Exit status: 0 the same; 1 a difference (chunks, a table missing on one side, its "
    "columns); 2 error; 3 --replica does not replicate from --primary (nothing compared); "
    "4 tables skipped, nothing else wrong; 5 replication stopped (compared anyway; it takes "
    "precedence over 1)."
)


def register_compare(actions: Commands) -> None:
    compare = actions.add_parser(
        "compare",
        help="compare a replica's event tables with its primary's, chunk by chunk",
        description="Per event table of either server (or each --table), id ranges of "
        "--chunk-size ids from the primary's key, a row count and an XOR of row CRC32s "
        "computed on both servers at once; nothing is streamed row by row. Ids up to the "
        "replica's largest when it starts are compared in full; past them only rows whose "
        "timestamp is older than --lag-allowance (newer ones may not have replicated yet: "
        "left out, and counted). A differing chunk is checked again once the replica has "
        "applied what the primary had written (GTID wait, at most --wait). A table nothing "
        "was written to within the allowance is first compared whole (CHECKSUM TABLE), and by "
        "chunks only when that differs. MySQL / "
        "MariaDB, any binlog format. " + EXIT_HELP,
    )
    compare.add_argument("--primary", required=True, metavar="URL", help="mysql://user@host/db")
    compare.add_argument("--replica", required=True, metavar="URL", help="mysql://user@host/db")
    compare.add_argument(
        "--table",
        action="append",
        default=[],
        metavar="T",
        help="only this table (repeatable; default: every event table of either server)",
    )
    compare.add_argument(
        "--chunk-size",
        type=positive_int,
        default=100_000,
        metavar="N",
        help="ids a chunk (default 100000)",
    )
    compare.add_argument(
        "--whole-table-max",
        type=non_negative_int,
        default=10_000_000,
        metavar="N",
        help="a quiet table of up to N ids is first compared whole, in one CHECKSUM TABLE "
        "statement a side (default 10000000; 0: always by chunks)",
    )
    compare.add_argument(
        "--lag-allowance",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="rows newer than this that the replica lacks are not a difference (default 300)",
    )
    compare.add_argument(
        "--wait",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="how long a differing chunk waits for the replica to apply what the primary "
        "had written before it is reported (default 10)",
    )
    compare.add_argument(
        "--no-replication",
        action="store_true",
        help="the two are not primary and replica (a restored copy): no replication check",
    )
    compare.set_defaults(run=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    from el_monitor.backup.compare import CompareOptions, compare_tables
    from el_monitor.backup.replication import NOT_A_REPLICA as NOT_REPLICATING
    from el_monitor.backup.replication import RUNNING, replication_of
    from el_monitor.progress import Progress
    from el_monitor.store.checksum import require_mysql

    with (
        opened_store(args.primary, doing="compare (primary)") as primary,
        opened_store(args.replica, doing="compare (replica)") as replica,
    ):
        require_mysql(primary), require_mysql(replica)
        replication = None
        if args.no_replication:
            print("replication: not checked (--no-replication)")
        else:
            replication = replication_of(primary, replica, args.primary)
            print(f"replication: {replication.state}: {replication.detail}")
            if replication.state == NOT_REPLICATING:
                return NOT_A_REPLICA
        options = CompareOptions(
            chunk_size=args.chunk_size,
            lag_allowance=args.lag_allowance,
            wait_for_replica=replication is not None and replication.state == RUNNING,
            wait_seconds=args.wait,
            whole_table_max=args.whole_table_max,
        )
        with Progress("compare", unit="rows") as progress:
            results = compare_tables(primary, replica, args.table, options, progress)
    _print_results(results)
    return _status(results, replication)


def _status(results: list[TableResult], replication: Replication | None) -> int:
    from el_monitor.backup.compare import DIFFERENCES
    from el_monitor.backup.compare import SKIPPED as TABLE_SKIPPED
    from el_monitor.backup.replication import STOPPED as REPLICATION_STOPPED

    if replication is not None and replication.state == REPLICATION_STOPPED:
        return STOPPED
    if any(r.state in DIFFERENCES for r in results):
        return DIFFERENT
    if any(r.state == TABLE_SKIPPED for r in results):
        return SKIPPED
    return SAME


def _print_results(results: list[TableResult]) -> None:
    if not results:
        print("no event tables on either server: nothing compared")
        return
    rows = [
        (r.table, r.state, str(r.rows), str(r.left_out), str(len(r.chunks)), r.note)
        for r in results
    ]
    header = ("table", "state", "rows", "left out", "chunks differing", "note")
    print(format_table(header, rows, numeric=(False, False, True, True, True, False)))
    for r in results:
        for chunk in r.chunks:
            print(
                f"{r.table} ids {chunk.first}-{chunk.last}: primary {chunk.primary.rows} rows, "
                f"replica {chunk.replica.rows} rows"
                + (", checksums differ" if chunk.primary.rows == chunk.replica.rows else "")
            )
