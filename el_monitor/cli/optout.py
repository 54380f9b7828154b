"""``el-monitor optout add|remove|list|purge``: the user opt-out list and its purge.

Ids and tokens are taken from argv (or stdin with ``-``, which keeps them out of shell history
and ``ps``) and turned into keyed hashes at once; nothing here prints or logs them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from el_monitor.argtypes import positive_int
from el_monitor.cli.options import (
    Commands,
    add_config_option,
    add_db_option,
    add_registry_options,
    command_group,
)
from el_monitor.cli.stores import opened_store
from el_monitor.cli.table import format_table
from el_monitor.errors import UserError

if TYPE_CHECKING:
    from el_monitor.catalog.model import Catalog
    from el_monitor.optout.listfile import OptOutList
    from el_monitor.optout.purge import PurgeSummary
    from el_monitor.optout.records import RecordMatcher
    from el_monitor.optout.textpurge import FilePurge
    from el_monitor.schema.registry import SchemaRegistry

__all__ = ["register"]


def register(commands: Commands) -> None:
    """Add the ``optout`` command and its actions to the top-level subparsers."""
    actions = command_group(
        commands,
        "optout",
        help="users who opted out: add, remove, list, purge their stored events",
        description="Keep the list of users who opted out of event logging. Only a keyed hash "
        "(HMAC-SHA256 with the site secret) of wiki and user id or token is recorded; "
        "forwarders drop matching events, and `optout purge` deletes those already stored.",
        kind="actions",
    )

    add = actions.add_parser(
        "add",
        help="record a user's opt-out",
        description="Record a user's opt-out on one wiki. Adding an entry twice changes nothing.",
    )
    _identity_options(add, allow_hash=False)
    _file_options(add, secret=True)
    add.set_defaults(run=_run_add)

    remove = actions.add_parser(
        "remove",
        help="withdraw a user's opt-out",
        description="Withdraw an opt-out, named by wiki and user id or token, or by its hash "
        "as `optout list` shows it.",
    )
    _identity_options(remove, allow_hash=True)
    _file_options(remove, secret=True)
    remove.set_defaults(run=_run_remove)

    listing = actions.add_parser(
        "list",
        help="show the recorded opt-outs (hashes and dates only)",
        description="Show every opt-out entry: its hash and when it was added.",
    )
    listing.add_argument("--json", action="store_true", help="a JSON array, for scripts")
    _file_options(listing, secret=False)
    listing.set_defaults(run=_run_list)

    purge = actions.add_parser(
        "purge",
        help="delete stored events of opted-out users",
        description="Delete the rows already stored for opted-out users from every table of a "
        "schema whose catalog policy names user_fields, and their error examples kept for the "
        "daily report; with --log-dir, their records in the forwarder's event logs too. Works "
        "in batches with a progress report; an interrupted run resumes from its checkpoint "
        "(next to the opt-out file).",
    )
    add_db_option(purge, help="sqlite:///path or mysql://… (its event tables and error examples)")
    purge.add_argument(
        "--log-dir",
        metavar="DIR",
        help="also rewrite the forwarder's event logs in DIR (all/valid/invalid JSON lines) "
        "without their records; a file a running forwarder appends to is left for a later run",
    )
    add_registry_options(purge, help="schema registry: which schema revisions (tables) exist")
    purge.add_argument("--dry-run", action="store_true", help="count the rows, delete nothing")
    purge.add_argument(
        "--restart", action="store_true", help="ignore the checkpoint of an interrupted run"
    )
    purge.add_argument(
        "--batch-size",
        type=positive_int,
        default=1000,
        metavar="N",
        help="rows scanned per batch (default 1000)",
    )
    _file_options(purge, secret=True)
    purge.set_defaults(run=_run_purge)


def _identity_options(parser: argparse.ArgumentParser, *, allow_hash: bool) -> None:
    parser.add_argument(
        "--wiki", required=not allow_hash, metavar="WIKI", help="wiki database name (enwiki)"
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--user-id", metavar="N", help="the user's numeric id on that wiki ('-': read from stdin)"
    )
    who.add_argument("--token", metavar="T", help="a user or app install token ('-': stdin)")
    if allow_hash:
        who.add_argument("--hash", metavar="H", help="the entry's hash, as `optout list` shows")


def _file_options(parser: argparse.ArgumentParser, *, secret: bool) -> None:
    parser.add_argument(
        "--optout-file",
        metavar="FILE",
        help="the opt-out list (default: the catalog's optout_file, else "
        "el-monitor-optout.jsonl in $STATE_DIRECTORY, $XDG_STATE_HOME/el-monitor or "
        "~/.local/state/el-monitor)",
    )
    if secret:
        parser.add_argument(
            "--secret-file",
            metavar="FILE",
            help="the site secret (default: the catalog's secret_file, else $EL_MONITOR_SECRET)",
        )
    add_config_option(parser)


def _catalog(args: argparse.Namespace, registry: SchemaRegistry | None = None) -> Catalog:
    from el_monitor.catalog.load import load_catalog

    return load_catalog(getattr(args, "config", None), registry)


def _identity(args: argparse.Namespace) -> tuple[str, str]:
    """(kind, value) from --user-id / --token; ``-`` reads the value from stdin."""
    from el_monitor.optout.identity import TOKEN, USER_ID

    kind, value = (USER_ID, args.user_id) if args.user_id is not None else (TOKEN, args.token)
    if value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
    return kind, value


def _run_add(args: argparse.Namespace) -> int:
    from el_monitor.optout.listfile import add_optout, resolve_optout_path
    from el_monitor.optout.secret import resolve_secret

    catalog = _catalog(args)
    secret = resolve_secret(args.secret_file, catalog)
    path = resolve_optout_path(args.optout_file, catalog)
    kind, value = _identity(args)
    digest, new = add_optout(path, secret, args.wiki, kind, value)
    if new:
        print(f"added {digest} ({kind} on {args.wiki}) to {path}")
        print("forwarders drop this user's events once they see the change; run `el-monitor")
        print("optout purge` to delete the events already stored")
    else:
        print(f"already present: {digest} ({kind} on {args.wiki}) in {path}")
    return 0


def _run_remove(args: argparse.Namespace) -> int:
    from el_monitor.optout.identity import hash_for
    from el_monitor.optout.listfile import remove_optout, resolve_optout_path
    from el_monitor.optout.secret import resolve_secret

    catalog = _catalog(args)
    path = resolve_optout_path(args.optout_file, catalog)
    if args.hash is not None:
        digest = args.hash.strip().lower()
    else:
        if not args.wiki:
            raise UserError("optout remove: --wiki is required with --user-id or --token")
        kind, value = _identity(args)
        digest = hash_for(resolve_secret(args.secret_file, catalog), args.wiki, kind, value)
    if not remove_optout(path, digest):
        print(f"el-monitor: not in {path}: {digest} (nothing removed)", file=sys.stderr)
        return 1
    print(f"removed {digest} from {path}")
    return 0


def _run_list(args: argparse.Namespace) -> int:
    from el_monitor.optout.listfile import OptOutList, resolve_optout_path

    optouts = OptOutList.load(resolve_optout_path(args.optout_file, _catalog(args)))
    if args.json:
        print(json.dumps([{"hash": e.hash, "added": e.added} for e in optouts.entries], indent=1))
        return 0
    if not optouts.entries:
        print(f"no opt-outs in {optouts.path}", file=sys.stderr)
    for entry in optouts.entries:
        print(f"{entry.hash}  {entry.added}")
    return 0


def _run_purge(args: argparse.Namespace) -> int:
    from el_monitor.optout.listfile import OptOutList, resolve_optout_path
    from el_monitor.optout.records import RecordMatcher
    from el_monitor.optout.secret import resolve_secret
    from el_monitor.optout.textpurge import purge_log_files
    from el_monitor.schema.registry import open_registry, require_schemas

    if not args.db and not args.log_dir:
        raise UserError("optout purge: give --db, --log-dir or both (what to purge)")
    registry = open_registry(args.schemas, args.schema_cache)
    require_schemas(registry, args.schemas)  # a wrong folder would purge nothing, silently
    catalog = _catalog(args, registry)
    if not catalog.defaults.user_fields and not any(
        p.user_fields for p in catalog.schemas.values()
    ):
        where = catalog.path or "the catalog (none found; pass --config FILE)"
        print(f"no schema in {where} has user_fields: nothing to purge")
        return 0
    optouts = OptOutList.load(resolve_optout_path(args.optout_file, catalog))
    if not optouts.hashes:
        print(f"opt-out list {optouts.path} is empty: nothing to purge")
        return 0
    secret = resolve_secret(args.secret_file, catalog)
    matcher = RecordMatcher(secret, optouts.hashes, catalog)
    files = _log_files(args.log_dir) if args.log_dir else []  # a wrong path fails first
    if args.db:
        _purge_store(args, catalog, registry, optouts, secret, matcher)
    if args.log_dir:
        try:
            done = purge_log_files(files, matcher, dry_run=args.dry_run)
        except OSError as exc:
            raise UserError(f"optout purge: {exc.filename}: {exc.strerror}") from None
        _print_files(done, args.dry_run)
    return 0


def _log_files(directory: str) -> list[Path]:
    from el_monitor.ingest.event_logs import log_files

    if not Path(directory).is_dir():
        raise UserError(f"optout purge: --log-dir {directory} is not a directory")
    return log_files(directory)


def _purge_store(
    args: argparse.Namespace,
    catalog: Catalog,
    registry: SchemaRegistry,
    optouts: OptOutList,
    secret: bytes,
    matcher: RecordMatcher,
) -> None:
    """The event tables, then the error examples; prints what was (or would be) deleted."""
    from el_monitor.optout.checkpoint import checkpoint_path
    from el_monitor.optout.purge import purge
    from el_monitor.optout.textpurge import purge_error_examples
    from el_monitor.progress import Progress
    from el_monitor.store import StoreError, StoreUnavailable

    label = "optout purge (dry run)" if args.dry_run else "optout purge"
    with opened_store(args.db, doing="purge") as store:
        try:
            with Progress(label, unit="rows") as progress:
                summary = purge(
                    store,
                    catalog,
                    registry,
                    optouts,
                    secret,
                    dry_run=args.dry_run,
                    batch_size=args.batch_size,
                    progress=progress,
                    restart=args.restart,
                )
            examples = purge_error_examples(
                store, matcher, dry_run=args.dry_run, batch_size=args.batch_size
            )
        except (StoreUnavailable, StoreError) as exc:
            resume = (
                ""
                if args.dry_run
                else f"; run again to resume from {checkpoint_path(optouts.path)}"
            )
            raise UserError(f"optout purge stopped: {exc}{resume}") from None
    _print_summary(summary)
    verb = "would clear" if args.dry_run else "cleared"
    print(f"error examples: {examples.scanned} scanned, {verb} {examples.cleared}")


def _print_summary(summary: PurgeSummary) -> None:
    verb = "would delete" if summary.dry_run else "deleted"
    if not summary.tables:
        print("no table has a column for a catalog user field: nothing to purge")
        return
    rows = [(t.table, str(t.scanned), str(t.deleted)) for t in summary.tables]
    total = ("total", str(summary.scanned), str(summary.deleted))
    # Without rules: the first line is the header, each other line a table, the total last.
    print(format_table(("table", "scanned", verb), rows, total=total, rules=False))
    if summary.resumed:
        print("(resumed from a checkpoint: rows scanned by the interrupted run are not counted)")


def _print_files(done: list[FilePurge], dry_run: bool) -> None:
    verb = "would remove" if dry_run else "removed"
    if not done:
        print("no event log files (all/valid/invalid-*.jsonl): nothing to purge there")
        return
    rows = [(f.path, str(f.records), str(f.removed)) for f in done]
    print(format_table(("log file", "records", verb), rows, rules=False))
    for f in done:
        if f.busy:
            print(f"{f.path}: a forwarder is still writing it; left as it was, run again later")
