"""``el-monitor backfill``: store again the events of a time window from the valid logs.

Exit status: 0 every capsule of the window that may be stored is stored (or, in a dry run,
counted); 1 some lines were unreadable or some rows refused (each listed); 2 a usage error or
a database that does not answer (run again: it resumes from its checkpoint).
"""

from __future__ import annotations

import argparse
import datetime
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from el_monitor.argtypes import positive_int, utc_time
from el_monitor.cli.options import Commands, add_config_option, add_db_option, add_registry_options
from el_monitor.cli.stores import opened_store
from el_monitor.cli.table import format_table
from el_monitor.errors import UserError

if TYPE_CHECKING:
    from el_monitor.backup.counts import BackfillCounts

__all__ = ["register"]

log = logging.getLogger(__name__)

INCOMPLETE = 1
LISTED = 20  # unreadable lines and refusal reasons printed; the counts are exact regardless


def register(commands: Commands) -> None:
    backfill = commands.add_parser(
        "backfill",
        help="store again a time window's events from the forwarder's valid logs",
        description="Read the forwarder's valid logs (--log-dir: valid-YYYY-MM-DD.jsonl, the "
        "capsules as validated, with their uuids) and store the events whose time is in "
        "[--since, --until) through the forwarder's writer: a uuid stored already is counted "
        "'already present', never stored twice, so a backfill can be run again at no risk. "
        "Events of users who opted out and events past their schema's retention are not "
        "stored again. Exit 0: done; 1: unreadable lines or refused rows (listed); 2: error.",
    )
    backfill.add_argument(
        "--log-dir", required=True, metavar="DIR", help="the forwarder's --log-dir"
    )
    for name, what in (("--since", "first moment"), ("--until", "end (excluded)")):
        backfill.add_argument(
            name,
            type=utc_time,
            required=True,
            metavar="T",
            help=f"{what} of the window, by the events' time: YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM] "
            "(UTC unless an offset is given)",
        )
    add_db_option(backfill, required=True, help="sqlite:///path or mysql://user@host/db")
    add_registry_options(backfill, help="schema registry the tables were made from")
    add_config_option(backfill, help="catalog TOML file: retention, opt-out list, sample rates")
    backfill.add_argument(
        "--secret-file", metavar="FILE", help="site secret for opt-out hashes (as for forward)"
    )
    backfill.add_argument("--optout-file", metavar="FILE", help="opt-out list (as for forward)")
    backfill.add_argument(
        "--batch-size",
        type=positive_int,
        default=5000,
        metavar="N",
        help="rows per transaction (default 5000)",
    )
    backfill.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="where an interrupted run keeps its place (default: DIR/.backfill-checkpoint.json)",
    )
    backfill.add_argument(
        "--dry-run", action="store_true", help="count what would be stored; write nothing"
    )
    backfill.set_defaults(run=run_backfill)


def run_backfill(args: argparse.Namespace) -> int:
    from el_monitor.backup.backfill import Backfill, BackfillSettings
    from el_monitor.backup.checkpoint import FILE_NAME, Checkpoint, fingerprint
    from el_monitor.backup.gate import Gate, Window
    from el_monitor.backup.logreader import files_for
    from el_monitor.ingest.policy import PolicyLoader
    from el_monitor.progress import Progress
    from el_monitor.retention.extensions import catalog_grants, database_grants
    from el_monitor.schema.registry import open_registry, require_schemas
    from el_monitor.store.base import safe_url

    since, until = args.since, args.until
    if since >= until:
        raise UserError(f"backfill: --since {since:%Y-%m-%dT%H:%M:%SZ} is not before --until")
    log_dir = Path(args.log_dir)
    if not log_dir.is_dir():
        raise UserError(f"backfill: --log-dir {log_dir} is not a directory")
    registry = open_registry(args.schemas, args.schema_cache)
    require_schemas(registry, args.schemas)
    loader = PolicyLoader(getattr(args, "config", None), registry,
                          args.secret_file, args.optout_file)  # fmt: skip
    policy = loader.load()
    assert loader.catalog is not None
    catalog = loader.catalog
    files = files_for(log_dir, since, until)
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    label = "backfill (dry run)" if args.dry_run else "backfill"
    with opened_store(args.db, doing="backfill", create=not args.dry_run) as store:
        grants = [*catalog_grants(catalog, catalog.schemas), *database_grants(store)]
        gate = Gate(Window.of(since, until), policy, catalog, grants, now)
        path = Path(args.checkpoint) if args.checkpoint else log_dir / FILE_NAME
        key = fingerprint(log_dir, since.isoformat(), until.isoformat(), safe_url(args.db))
        settings = BackfillSettings(tuple(files), args.batch_size, args.dry_run)
        with Progress(label, unit="bytes") as progress:
            counts = Backfill(
                store, registry, gate, settings, Checkpoint(path, key), progress
            ).run()
    if not files:
        print(f"no valid logs in {log_dir} for that window (valid-YYYY-MM-DD.jsonl)")
    print(report(counts, args.dry_run))
    return INCOMPLETE if counts.unreadable or counts.refused else 0


def report(counts: BackfillCounts, dry_run: bool) -> str:
    """The counts as a table, then the reasons rows were refused and the unreadable lines."""
    inserted = "would insert" if dry_run else "inserted"
    present = "already present"
    if counts.differing:
        present += f" ({counts.differing} with other content: not stored)"
    rows = [
        ("unreadable lines", counts.unreadable),
        ("out of window", counts.out_of_window),
        ("opted out", counts.opted_out),
        ("past retention", counts.past_retention),
        (present, counts.already_present),
        (inserted, counts.inserted),
        ("refused", counts.refused),
    ]
    lines = [format_table(("lines", "count"), [(n, str(c)) for n, c in rows],
                          total=("read", str(counts.read)))]  # fmt: skip
    if counts.refusals:
        lines.append("\nrefused rows, by reason:")
        for reason, count in counts.refusals.most_common(LISTED):
            lines.append(f"{count:>8}  {reason}")
    if counts.unreadable_lines:
        lines.append("\nunreadable lines:")
        lines += [f"  {where}" for where in counts.unreadable_lines[:LISTED]]
        if counts.unreadable > LISTED:
            lines.append(f"  ... and {counts.unreadable - LISTED} more")
    if dry_run:
        lines.append("dry run: nothing was written")
    return "\n".join(lines)
