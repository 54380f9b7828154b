"""``el-monitor schemas``: every known schema revision with the policy the catalog applies to it
and, with ``--db``, what the database holds of it and whether retention is enforced there
(the last successful run, the oldest row not yet deleted or sanitized, days past policy: read
by ``retention.status``, as ``check_el_retention`` reads them); ``schemas review`` checks
revisions for privacy and data policy before they are deployed (``retention.review``)."""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from el_monitor.catalog.model import Catalog
from el_monitor.cli.catalog import load_checked
from el_monitor.cli.options import Commands, add_config_option, add_db_option, add_registry_options
from el_monitor.cli.stores import opened_store
from el_monitor.cli.table import format_table

if TYPE_CHECKING:
    from el_monitor.retention.review import Finding
    from el_monitor.store import Store

log = logging.getLogger(__name__)

OWNERS_WIDTH = 40  # owner cells longer than this are cut on a terminal


class Stored(NamedTuple):
    """What the database holds of one schema revision."""

    table: str | None  # None: no table yet
    rows: int
    last_event: str | None  # ISO 8601, UTC
    recorded_sample_rate: int | None  # the rate the forwarders last recorded with the data
    sample_rate_changed: bool  # recorded, and not the catalog's
    last_retention: str | None = None  # the last successful retention run on the table
    oldest_unhandled: str | None = None  # ISO: oldest row not yet deleted or sanitized for good
    overdue_days: float = 0.0  # how far that row (or an untouched one) is past policy
    retention_ran: bool = False  # whether a retention run has handled the table


class Listing(NamedTuple):
    """One schema revision: the catalog's policy for it, and what is stored (with ``--db``)."""

    schema: str
    revision: str
    owners: tuple[str, ...]
    sample_rate: int
    max_rate: float
    retention_days: int
    action: str  # at the end of retention: delete, or sanitize (to keep)
    stored: Stored | None = None

    def as_json(self) -> dict[str, object]:
        fields: dict[str, object] = {**self._asdict(), "owners": list(self.owners)}
        del fields["stored"]
        if self.stored is not None:
            fields.update(self.stored._asdict())
        return fields


def register(commands: Commands) -> None:
    """Add ``schemas`` to the ``el-monitor`` subcommands."""
    schemas = commands.add_parser(
        "schemas",
        help="list known schema revisions with their policy and stored rows",
        description="List every known schema revision with its owners, sample rate, max rate "
        "and retention (then delete, or sanitize to keep) from the catalog and, with --db, the "
        "rows stored, the last event time, the sample rate recorded with the data (CHANGED when "
        "it differs from the catalog) and whether retention is enforced: the last successful "
        "retention run on the table (never, or failed), the oldest row not yet deleted or "
        "sanitized, and how many days it is late.",
        # By hand: argparse would show --schemas as optional (see below) and ACTION as needed.
        usage="%(prog)s [-h] [--config FILE] --schemas DIR|URL [--schema-cache DIR] [--db URL] "
        "[--json]\n       %(prog)s review --schemas DIR|URL [--config FILE] [--json] "
        "[REVISION ...]",
    )
    add_config_option(schemas)
    # Not required here: `schemas review --schemas DIR` gives it after the action, which
    # argparse would otherwise refuse for lack of one before it (run_schemas insists instead).
    add_registry_options(schemas, required=False)
    add_db_option(
        schemas,
        help="also show rows stored and the last event: sqlite:///path or mysql://user@host/db",
    )
    schemas.add_argument("--json", action="store_true", help="a JSON array, for scripts")
    schemas.set_defaults(run=functools.partial(run_schemas, parser=schemas))
    actions = schemas.add_subparsers(
        title="actions", metavar="ACTION", required=False, prog=schemas.prog
    )
    _register_review(actions)


def _register_review(actions: Commands) -> None:
    review = actions.add_parser(
        "review",
        help="review schema revisions for privacy and data policy before deploying them",
        description="Check schema revisions as a privacy or data reviewer would: fields that "
        "look like personal data (ids, tokens, names, IPs, emails, free text, URLs, titles) "
        "the catalog does not declare in user_fields or hash, or keeps past retention; "
        "strings without maxLength; no owner; no sampling on a high-volume schema; a field a "
        "rollup or keep needs that the revision drops. Exit 0 when clean, 1 with findings "
        "(to gate a merge), 2 on a usage error or an invalid catalog.",
    )
    add_config_option(review)
    add_registry_options(review)
    review.add_argument(
        "revisions",
        nargs="*",
        metavar="REVISION",
        help="Schema/revision (NavigationTiming/1.7.0), or Schema for its latest revision; "
        "default: the latest revision of every schema",
    )
    review.add_argument(
        "--json",
        action="store_true",
        help="a JSON array of findings (schema, revision, field, check, severity, message)",
    )
    review.set_defaults(run=run_review)


def run_review(args: argparse.Namespace) -> int:
    """Exit 0 without findings, 1 with some, 2 when the catalog is invalid."""
    from el_monitor.retention.review import review, select_revisions

    registry, catalog = load_checked(args, require=True)
    if catalog is None:
        return 2  # its problems are on stderr: the catalog is the user's to fix
    revisions = select_revisions(registry, args.revisions)
    findings = review(registry, catalog, revisions)
    if args.json:
        print(json.dumps([finding.as_json() for finding in findings], indent=2))
    else:
        print(_review_text(findings, len(revisions)))
    return 1 if findings else 0


def run_schemas(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Exit 0 with the listing, 1 when the catalog is invalid (its problems on stderr)."""
    if args.schemas is None:
        parser.error("the following arguments are required: --schemas")
    registry, catalog = load_checked(args)
    if catalog is None:
        return 1
    listings = [_listing(catalog, name, revision) for name, revision in registry.revisions()]
    if args.db:
        known = {name for name, _ in registry.revisions()}
        with opened_store(args.db, doing="read the stored rows") as store:
            listings = _with_stored(store, listings)
            listings = _with_retention(store, catalog, known, listings)
    if args.json:
        print(json.dumps([listing.as_json() for listing in listings], indent=2))
    elif listings:
        print(_table(listings, args.db is not None, cut=sys.stdout.isatty()))
    else:
        print(f"no schemas in {args.schemas}")
    return 0


def _listing(catalog: Catalog, name: str, revision: str) -> Listing:
    policy = catalog.policy(name)
    return Listing(
        schema=name,
        revision=revision,
        owners=tuple(policy.owners),
        sample_rate=policy.sample_rate,
        max_rate=policy.max_rate,
        retention_days=policy.retention_days,
        action="sanitize" if policy.keep else "delete",
    )


# --- what the store holds --------------------------------------------------------------------


def _with_stored(store: Store, listings: Sequence[Listing]) -> list[Listing]:
    """Each listing with its rows stored, last event and recorded sample rate."""
    from el_monitor.store import StoreError
    from el_monitor.store.catalogue import table_stats
    from el_monitor.store.mapping import table_name

    tables = {name.lower(): name for name in store.tables()}
    recorded = _recorded_rates(store)
    done = []
    for listing in listings:
        try:
            table = tables.get(table_name(listing.schema, listing.revision).lower())
        except StoreError:  # a name too long to be a table: nothing can be stored
            table = None
        count, last = table_stats(store, table) if table is not None else (0, None)
        rate = recorded.get((listing.schema, listing.revision))
        stored = Stored(
            table=table,
            rows=count,
            last_event=_iso(last),
            recorded_sample_rate=rate,
            sample_rate_changed=rate is not None and rate != listing.sample_rate,
        )
        done.append(listing._replace(stored=stored))
    return done


def _with_retention(
    store: Store, catalog: Catalog, known: set[str], listings: Sequence[Listing]
) -> list[Listing]:
    """Each stored listing with how retention stands on its table."""
    from el_monitor.retention.status import enforcement

    now = datetime.datetime.now(datetime.UTC)
    statuses = enforcement(store, catalog, now, known).by_table()
    done = []
    for listing in listings:
        status = statuses.get(listing.stored.table or "") if listing.stored else None
        if listing.stored is None or status is None:
            done.append(listing)
            continue
        last = status.state.last_success if status.state else None
        stored = listing.stored._replace(
            last_retention=last,
            oldest_unhandled=_iso(status.oldest.unfinished),
            overdue_days=round(status.overdue_days, 2),
            retention_ran=not status.never_run,
        )
        done.append(listing._replace(stored=stored))
    return done


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


def _iso(timestamp: str | None) -> str | None:
    """MediaWiki ``YYYYMMDDHHMMSS`` (UTC) as ISO 8601; anything else as it is."""
    if timestamp is None:
        return None
    if len(timestamp) == 14 and timestamp.isdigit():
        t = timestamp
        return f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:]}Z"
    return timestamp


# --- presentation ----------------------------------------------------------------------------


def _owners_cell(owners: Sequence[str], cut: bool) -> str:
    """The owners, cut to ``OWNERS_WIDTH`` on a terminal with a count of those left out."""
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


def _table(listings: Sequence[Listing], stored: bool, cut: bool) -> str:
    header = ["schema", "revision", "owners", "1 in N", "max/s", "retention", "then"]
    numeric = [False, False, False, True, True, True, False]
    if stored:
        header += ["rows", "last event", "sampling", "retention run", "oldest unhandled", "late"]
        numeric += [True, False, False, False, False, True]
    return format_table(header, [_cells(row, stored, cut) for row in listings], numeric=numeric)


def _cells(listing: Listing, stored: bool, cut: bool) -> list[str]:
    cells = [
        listing.schema,
        listing.revision,
        _owners_cell(listing.owners, cut),
        str(listing.sample_rate),
        f"{listing.max_rate:g}",
        f"{listing.retention_days}d",
        listing.action,
    ]
    if stored and listing.stored is not None:
        rate = listing.stored.recorded_sample_rate
        sampling = "-" if rate is None else str(rate)
        if listing.stored.sample_rate_changed:
            sampling += " CHANGED"
        cells += [str(listing.stored.rows), listing.stored.last_event or "-", sampling]
        cells += _enforced(listing.stored)
    return cells


def _review_text(findings: Sequence[Finding], reviewed: int) -> str:
    """Findings grouped by revision, errors first, then a one-line summary."""
    lines: list[str] = []
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.schema, finding.revision), []).append(finding)
    for (schema, revision), found in groups.items():
        lines.append(f"{schema}/{revision}: {_counted(found)}")
        lines += [f"  {f.severity:<7}  {f.check:<16}  {f.field or '-'}: {f.message}" for f in found]
    total = f"{_plural(reviewed, 'revision')} reviewed"
    if findings:
        lines.append(f"{total}: {_counted(findings)} in {len(groups)} of them")
    else:
        lines.append(f"{total}: no findings")
    return "\n".join(lines)


def _counted(findings: Sequence[Finding]) -> str:
    errors = sum(f.severity == "error" for f in findings)
    return f"{_plural(errors, 'error')}, {_plural(len(findings) - errors, 'warning')}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _enforced(stored: Stored) -> list[str]:
    """The retention run, oldest unhandled row and lateness cells; ``-`` without a table."""
    if stored.table is None:
        return ["-", "-", "-"]
    ran = (stored.last_retention or "failed") if stored.retention_ran else "never"
    late = f"{stored.overdue_days:g}d" if stored.overdue_days > 0 else "-"
    return [ran, stored.oldest_unhandled or "-", late]
