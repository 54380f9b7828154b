"""``el-monitor catalog check``: is the catalog of per-schema policy valid for this registry?
``catalog reference``: every key the catalog takes, as the README lists them.

``load_checked`` is shared with ``schemas``, which lists what the same catalog applies;
``load_or_report`` with the commands that only read the catalog (``report``, ``errors``).
"""

from __future__ import annotations

import argparse
import sys

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import Catalog, CatalogError
from el_monitor.cli.options import Commands, add_config_option, add_registry_options, command_group
from el_monitor.schema.registry import SchemaRegistry, open_registry, require_schemas


def register(commands: Commands) -> None:
    """Add ``catalog`` (with ``check``) to the ``el-monitor`` subcommands."""
    actions = command_group(
        commands,
        "catalog",
        help="work with the catalog of per-schema policy (owners, sampling, retention)",
        description="The catalog (TOML, default el-monitor.toml) holds per-schema policy.",
        kind="commands",
    )
    check = actions.add_parser(
        "check",
        help="validate the catalog against the schema registry",
        description="Validate the catalog against the schema registry: unknown keys, wrong "
        "types, bad addresses, unknown schemas and fields. Lists known schemas without an "
        "owner (a warning). Exit 0 when valid, 1 with every problem on stderr otherwise.",
    )
    add_config_option(check)
    add_registry_options(check)
    check.set_defaults(run=run_check)
    reference = actions.add_parser(
        "reference",
        help="print every catalog key with its default and meaning (Markdown)",
        description="Every key of every catalog table, its default and meaning, as Markdown: "
        "the README's reference is this output.",
    )
    reference.set_defaults(run=_run_reference)


def _run_reference(args: argparse.Namespace) -> int:
    from el_monitor.catalog.reference import reference_markdown

    print(reference_markdown(), end="")
    return 0


def load_checked(
    args: argparse.Namespace, *, require: bool = False
) -> tuple[SchemaRegistry, Catalog | None]:
    """The registry and the catalog; None (problems printed) when the catalog is invalid.
    ``require``: refuse a schema directory that holds no schemas (UserError)."""
    registry = open_registry(args.schemas, args.schema_cache)
    if require:
        require_schemas(registry, args.schemas)
    try:
        catalog = load_catalog(getattr(args, "config", None), registry)
    except CatalogError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return registry, None
    if catalog.path is None:
        print("el-monitor: no catalog file (el-monitor.toml); built-in defaults", file=sys.stderr)
    return registry, catalog


def load_or_report(args: argparse.Namespace) -> Catalog | None:
    """The catalog ``--config`` names (or the default); None, its problems printed on stderr,
    when it is invalid."""
    try:
        return load_catalog(getattr(args, "config", None))
    except CatalogError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def run_check(args: argparse.Namespace) -> int:
    """Exit 0 when the catalog is valid (listing unowned schemas), 1 with its problems."""
    registry, catalog = load_checked(args, require=True)
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
