"""``el-monitor retention run|extend|list``: enforce the catalog's retention on the database.

``run`` is a dry run unless ``--execute``.  Exit status: 0 nothing is left due (executed, or
a dry run found nothing); 1 a dry run found rows due; 2 a usage or database error (one line,
as every command); 3 a guard refused the run (every reason on stderr; nothing changed);
130 interrupted (run again: it resumes).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from el_monitor.argtypes import (
    iso_date,
    non_negative_float,
    positive_float,
    positive_int,
    schema_name,
)
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
    from el_monitor.retention.engine import RunResult
    from el_monitor.retention.plan import PreStep

__all__ = ["register"]

DUE, REFUSED = 1, 3


def register(commands: Commands) -> None:
    actions = command_group(
        commands,
        "retention",
        help="purge or sanitize rows past retention; extensions",
        description="Enforce the catalog's retention: rows older than a schema's "
        "retention_days are deleted, or sanitized down to its keep list (hash fields kept "
        "as an HMAC). Dated extensions lengthen it.",
        kind="actions",
    )
    run = actions.add_parser(
        "run",
        help="purge and sanitize (a dry run unless --execute)",
        description="Per event table (every revision in the database, in the registry or "
        "not): rows past retention are deleted when the schema keeps nothing, else "
        "sanitized; first the catalog's rollups are computed and the stored error examples "
        "past retention dropped (with --log-dir, the event logs cleaned too). A dry run by "
        "default. Exit 0: nothing left due; 1: a dry run found rows "
        "due; 2: error; 3: a guard refused the run (nothing changed).",
    )
    add_db_option(run, required=True, help="sqlite:///path or mysql://user@host/db")
    add_registry_options(run, help="schema registry: which schema names exist")
    add_config_option(run)
    run.add_argument(
        "--log-dir", metavar="DIR", help="also clean the forwarder's event logs, by the same rules"
    )
    run.add_argument("--execute", action="store_true", help="do it (default: only report)")
    run.add_argument("--schema", type=schema_name, metavar="S", help="only this schema")
    run.add_argument(
        "--before", type=iso_date, metavar="DATE", help="only rows before DATE (YYYY-MM-DD, UTC)"
    )
    run.add_argument(
        "--max-age-gap",
        type=positive_float,
        metavar="DAYS",
        help="refuse when rows due reach more than DAYS past where the last run left a table",
    )
    run.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="rows a transaction at most (fewer while the server is slow; default 5000)",
    )
    run.add_argument(
        "--pause",
        type=positive_float,
        default=0.0,
        metavar="SECONDS",
        help="pause between batches (lets replicas catch up)",
    )
    run.add_argument(
        "--yield-factor",
        type=non_negative_float,
        metavar="F",
        help="while others insert (live traffic), pause F times each batch's time after it, "
        "so the forwarders keep their pace; 0: never (default 1)",
    )
    run.set_defaults(run=_run)

    extend = actions.add_parser(
        "extend",
        help="keep a schema's rows longer, with a reason and an end date",
        description="Record an extension in the database: every run and report sees it. "
        "It applies through --until and stops by itself after.",
    )
    extend.add_argument("schema", type=schema_name, metavar="SCHEMA")
    extend.add_argument("--days", type=positive_int, required=True, help="retention in days")
    extend.add_argument("--until", type=iso_date, required=True, metavar="DATE", help="YYYY-MM-DD")
    extend.add_argument("--reason", required=True, metavar="TEXT", help="ticket and why")
    extend.add_argument("--by", required=True, metavar="NAME", help="who decided")
    extend.add_argument(
        "--fields", nargs="+", default=(), metavar="FIELD", help="only these fields (default: rows)"
    )
    add_db_option(extend, required=True, help="sqlite:///path or mysql://user@host/db")
    add_config_option(extend, help="catalog TOML file: --days must exceed its retention_days")
    extend.set_defaults(run=_run_extend)

    listing = actions.add_parser("list", help="show extensions, active and expired")
    add_db_option(listing, required=True, help="sqlite:///path or mysql://user@host/db")
    add_config_option(listing)
    listing.set_defaults(run=_run_list)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def pre_steps(args: argparse.Namespace) -> list[PreStep]:
    """What must see the rows before they lose detail, in this order: rollups (catalog
    ``aggregate``), then, with ``--log-dir``, the event logs and stored error examples.
    Each gets the RunPlan after the guards pass (dry runs too) and returns a summary line."""
    from el_monitor.retention.steps import examples_step, log_step, rollup_step

    steps: list[PreStep] = [rollup_step]
    if args.schema is None:  # logs and examples mix schemas: a run for one leaves them be
        steps.append(examples_step)
        if args.log_dir is not None:
            steps.append(log_step(args.log_dir))
    return steps


def _run(args: argparse.Namespace) -> int:
    from el_monitor.catalog.load import load_catalog
    from el_monitor.progress import Progress
    from el_monitor.retention.engine import plan_run, run_retention
    from el_monitor.retention.guards import RetentionRefused
    from el_monitor.schema.registry import open_registry, require_schemas

    if args.log_dir is not None and not Path(args.log_dir).is_dir():
        raise UserError(f"retention run: --log-dir {args.log_dir} is not a directory")
    registry = open_registry(args.schemas, args.schema_cache)
    known = {name for name, _ in require_schemas(registry, args.schemas)}
    catalog = load_catalog(getattr(args, "config", None), registry)
    label = "retention" if args.execute else "retention (dry run)"
    with opened_store(args.db, doing="run retention") as store:
        plan = plan_run(
            store,
            catalog,
            _now(),
            known,
            execute=args.execute,
            only=args.schema,
            before=args.before,
        )
        try:
            with Progress(label, unit="rows") as progress:
                result = run_retention(
                    plan,
                    max_age_gap=args.max_age_gap,
                    pre_steps=pre_steps(args),
                    **({} if args.batch_size is None else {"batch_size": args.batch_size}),
                    pause=args.pause,
                    **({} if args.yield_factor is None else {"yield_factor": args.yield_factor}),
                    progress=progress,
                )
        except RetentionRefused as refused:
            for problem in refused.problems:
                print(f"el-monitor: retention refused: {problem}", file=sys.stderr)
            print("nothing was changed", file=sys.stderr)
            return REFUSED
    _print_result(result)
    return DUE if not args.execute and result.due else 0


def _print_result(result: RunResult) -> None:
    from el_monitor.retention.policy import DELETE, SANITIZE

    executed = result.plan.execute
    for line in result.pre_steps:
        print(line)
    if not result.tables:
        print("no event tables: nothing to do")
        return
    head = ("table", "deleted", "sanitized") if executed else ("table", "to delete", "to sanitize")
    rows = []
    for t in result.tables:
        deleted = t.deleted if executed else t.plan.due(DELETE)
        sanitized = t.sanitized if executed else t.plan.due(SANITIZE)
        oldest = t.plan.oldest_due or "-"
        rows.append((t.plan.table, str(deleted), str(sanitized), oldest, t.plan.rules.describe()))
    total_deleted = sum(int(r[1]) for r in rows)
    total_sanitized = sum(int(r[2]) for r in rows)
    print(
        format_table(
            (*head, "oldest due", "policy"),
            rows,
            numeric=(False, True, True, False, False),
            total=("total", str(total_deleted), str(total_sanitized), "", ""),
        )
    )
    if result.salts_forgotten:
        print(f"forgot {result.salts_forgotten} hashing salts of periods past every retention")
    if not executed and result.due:
        print("dry run: nothing changed; run with --execute to do it")


def _run_extend(args: argparse.Namespace) -> int:
    from el_monitor.catalog.load import load_catalog
    from el_monitor.retention.extensions import record_extension

    days = load_catalog(getattr(args, "config", None)).policy(args.schema).retention_days
    if args.days <= days:
        raise UserError(
            f"retention extend: {args.schema} keeps rows {days} days already; --days must be more"
        )
    with opened_store(args.db, doing="record the extension") as store:
        grant = record_extension(
            store, args.schema, args.days, args.until, args.reason, args.by, _now(), args.fields
        )
    print(f"{grant.schema}: {grant.describe()}")
    return 0


def _run_list(args: argparse.Namespace) -> int:
    from el_monitor.catalog.load import load_catalog
    from el_monitor.retention.extensions import catalog_grants, database_grants

    catalog = load_catalog(getattr(args, "config", None))
    today = _now().date()
    with opened_store(args.db, doing="list extensions") as store:
        grants = [*catalog_grants(catalog, catalog.schemas), *database_grants(store)]
    if not grants:
        print("no retention extensions")
        return 0
    rows = [
        (
            g.schema,
            str(g.retention_days),
            g.until.isoformat(),
            "active" if g.active(today) else "EXPIRED",
            ", ".join(g.fields) or "(rows)",
            g.source + (f" ({g.created_by}, {g.created_at})" if g.created_by else ""),
            g.reason,
        )
        for g in grants
    ]
    header = ("schema", "days", "until", "state", "fields", "source", "reason")
    print(format_table(header, rows, numeric=[False, True] + [False] * 5))
    return 0
