"""``el-monitor catalog check`` and ``el-monitor schemas``: the catalog as operators see it.

Kept apart from ``cli.py`` so the catalog commands can grow without touching the forwarder's;
``register`` adds them to the top-level subparsers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import Catalog, CatalogError
from el_monitor.cli.options import add_config_option, usage
from el_monitor.errors import UserError
from el_monitor.schema.registry import SchemaRegistry, open_registry

if TYPE_CHECKING:
    from el_monitor.store import Store

log = logging.getLogger(__name__)

OWNERS_WIDTH = 40  # owner cells longer than this are cut on a terminal


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``catalog`` (with ``check``) and ``schemas`` to the ``el-monitor`` subcommands."""
    catalog = commands.add_parser(
        "catalog",
        help="work with the catalog of per-schema policy (owners, sampling, retention)",
        description="The catalog (TOML, default el-monitor.toml) holds per-schema policy.",
    )
    catalog.set_defaults(run=lambda _: usage(catalog))
    actions = catalog.add_subparsers(title="commands", metavar="COMMAND")
    check = actions.add_parser(
        "check",
        help="validate the catalog against the schema registry",
        description="Validate the catalog against the schema registry: unknown keys, wrong "
        "types, bad addresses, unknown schemas and fields. Lists known schemas without an "
        "owner (a warning). Exit 0 when valid, 1 with every problem on stderr otherwise.",
    )
    _add_common(check)
    check.set_defaults(run=_run_check)

    schemas = commands.add_parser(
        "schemas",
        help="list known schema revisions with their policy and stored rows",
        description="List every known schema revision with its owners, sample rate, max rate "
        "and retention from the catalog and, with --db, the rows stored, the last event time "
        "and the sample rate recorded with the data (CHANGED when it differs from the catalog).",
    )
    _add_common(schemas)
    schemas.add_argument(
        "--db",
        metavar="URL",
        help="also show rows stored and the last event: sqlite:///path or mysql://user@host/db",
    )
    schemas.add_argument("--json", action="store_true", help="a JSON array, for scripts")
    schemas.set_defaults(run=_run_schemas)


def _add_common(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument(
        "--schemas",
        required=True,
        metavar="DIR|URL",
        help="schema registry: a directory <Schema>/<revision>.json, or an HTTP schema "
        "repository URL",
    )
    parser.add_argument(
        "--schema-cache",
        metavar="DIR",
        default=".el-monitor-schemas",
        help="on-disk cache for an HTTP schema repository",
    )


def _load(args: argparse.Namespace) -> tuple[SchemaRegistry, Catalog | None]:
    """The registry and the catalog; None (problems printed) when the catalog is invalid."""
    registry = open_registry(args.schemas, args.schema_cache)
    try:
        catalog = load_catalog(getattr(args, "config", None), registry)
    except CatalogError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return registry, None
    if catalog.path is None:
        print("el-monitor: no catalog file (el-monitor.toml); built-in defaults", file=sys.stderr)
    return registry, catalog


def _run_check(args: argparse.Namespace) -> int:
    registry, catalog = _load(args)
    if catalog is None:
        return 1
    unowned = catalog.unowned(name for name, _ in registry.revisions())
    count = len(catalog.schemas)
    print(
        f"catalog OK: {count} schema{'' if count == 1 else 's'} configured, {len(unowned)} "
        f"known schema{'' if len(unowned) == 1 else 's'} without an owner"
        + (":" if unowned else "")
    )
    for name in unowned:
        print(f"  {name}")
    return 0


def _run_schemas(args: argparse.Namespace) -> int:
    registry, catalog = _load(args)
    if catalog is None:
        return 1
    revisions = registry.revisions()
    rows = [_policy_row(catalog, name, revision) for name, revision in revisions]
    if args.db:
        _add_stored(rows, args.db)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print(_table(rows, args.db is not None, cut=sys.stdout.isatty()))
    else:
        print(f"no schemas in {args.schemas}")
    return 0


def _policy_row(catalog: Catalog, name: str, revision: str) -> dict:
    policy = catalog.policy(name)
    return {
        "schema": name,
        "revision": revision,
        "owners": list(policy.owners),
        "sample_rate": policy.sample_rate,
        "max_rate": policy.max_rate,
        "retention_days": policy.retention_days,
    }


# --- what the store holds --------------------------------------------------------------------


def _add_stored(rows: list[dict], url: str) -> None:
    """Rows stored, last event and recorded sample rate of each revision, in place."""
    from el_monitor.store import StoreError, StoreUnavailable, open_store
    from el_monitor.store.catalogue import table_stats
    from el_monitor.store.mapping import table_name

    lite = url[len("sqlite:///") :] if url.startswith("sqlite:///") else None
    if lite and lite != ":memory:" and not Path(lite).is_file():
        # Opening would create an empty database: say so instead of listing zeros.
        raise UserError(f"database {lite} does not exist; check --db")
    try:
        store = open_store(url)
    except StoreUnavailable as exc:
        raise UserError(f"{exc} (is the database running? check --db)") from None
    try:
        tables = {name.lower(): name for name in store.tables()}
        recorded = _recorded_rates(store)
        for row in rows:
            try:
                table = tables.get(table_name(row["schema"], row["revision"]).lower())
            except StoreError:  # a name too long to be a table: nothing can be stored
                table = None
            count, last = 0, None
            if table is not None:
                count, last = table_stats(store, table)
            rate = recorded.get((row["schema"], row["revision"]))
            row.update(
                table=table,
                rows=int(count),
                last_event=_iso(last),
                recorded_sample_rate=rate,
                sample_rate_changed=rate is not None and rate != row["sample_rate"],
            )
    except StoreUnavailable as exc:
        raise UserError(f"{exc} (is the database running? check --db)") from None
    except StoreError as exc:
        raise UserError(f"{store.url}: {exc}") from None
    finally:
        store.close()


def _recorded_rates(store: Store) -> dict[tuple[str, str], int]:
    """The latest recorded sample rate per revision; empty when nothing records them yet."""
    from el_monitor.store import StoreError
    from el_monitor.store.sampling import SAMPLING_TABLE, recorded_sample_rates

    try:
        found = recorded_sample_rates(store)
    except StoreError as exc:
        log.warning("cannot read recorded sample rates from %s: %s", SAMPLING_TABLE, exc)
        return {}
    return {(r.schema, r.revision): r.sample_rate for r in found}


def _iso(timestamp: object) -> str | None:
    """MediaWiki ``YYYYMMDDHHMMSS`` (UTC) as ISO 8601; anything else as it is."""
    if timestamp is None:
        return None
    text = timestamp.decode() if isinstance(timestamp, bytes) else str(timestamp)
    if len(text) == 14 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:]}Z"
    return text


# --- presentation ----------------------------------------------------------------------------


def _owners_cell(owners: Sequence[str], cut: bool) -> str:
    if not owners:
        return "-"
    text = ", ".join(owners)
    if not cut or len(text) <= OWNERS_WIDTH:
        return text
    for shown in range(len(owners) - 1, 0, -1):
        text = ", ".join(owners[:shown]) + f" +{len(owners) - shown}"
        if len(text) <= OWNERS_WIDTH:
            return text
    return owners[0][: OWNERS_WIDTH - 6] + f"... +{len(owners) - 1}"


def _table(rows: list[dict], stored: bool, cut: bool) -> str:
    """Aligned plain text: names left, numbers right, a rule under the header."""
    header = ["schema", "revision", "owners", "1 in N", "max/s", "retention"]
    numeric = [False, False, False, True, True, True]
    if stored:
        header += ["rows", "last event", "sampling"]
        numeric += [True, False, False]
    body = []
    for row in rows:
        cells = [
            row["schema"],
            row["revision"],
            _owners_cell(row["owners"], cut),
            str(row["sample_rate"]),
            f"{row['max_rate']:g}",
            f"{row['retention_days']}d",
        ]
        if stored:
            rate = row["recorded_sample_rate"]
            sampling = "-" if rate is None else str(rate)
            if row["sample_rate_changed"]:
                sampling += " CHANGED"
            cells += [str(row["rows"]), row["last_event"] or "-", sampling]
        body.append(cells)
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *map(line, body)])
