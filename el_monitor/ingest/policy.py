"""The forwarder's catalog-driven decisions, loaded at start and reloaded while it runs.

A reload happens on SIGHUP or when the catalog or the opt-out list changes on disk.  It is
all or nothing: an invalid new catalog is logged and the one in force stays.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import DEFAULT_PATH, Catalog
from el_monitor.errors import UserError
from el_monitor.ingest.sampling import Sampler
from el_monitor.optout.listfile import OptOutList, file_stamp, resolve_optout_path
from el_monitor.optout.matcher import OptOutCheck, OptOutMatcher
from el_monitor.optout.secret import resolve_secret
from el_monitor.schema.registry import SchemaRegistry

log = logging.getLogger(__name__)

Stamp = tuple[int, int, int] | None


def nothing_to_check(schema: str) -> None:
    return None


class Policy(NamedTuple):
    """The per-event decisions the catalog drives, per schema; swapped whole on reload.

    A ``*_for`` answering None means "nothing to check" and costs nothing per event.
    """

    sampler_for: Callable[[str], Sampler | None] = nothing_to_check
    opt_out_check_for: Callable[[str], OptOutCheck | None] = nothing_to_check

    def sample_rate(self, schema: str) -> int:
        """The rate in force for a schema (1: every event kept), recorded beside its data."""
        sampler = self.sampler_for(schema)
        return sampler.rate if sampler is not None else 1


def samplers(catalog: Catalog) -> Callable[[str], Sampler | None]:
    """``sampler_for(schema)``: None for schemas kept whole (rate 1), the common case."""

    def sampler_for(schema: str) -> Sampler | None:
        policy = catalog.policy(schema)
        return Sampler(policy.sample_rate, policy.sample_key) if policy.sample_rate > 1 else None

    return sampler_for


def opt_out_checks(catalog: Catalog, matcher: OptOutMatcher) -> Callable[[str], OptOutCheck | None]:
    """``opt_out_check_for(schema)``: only schemas that name user fields pay for the check."""

    def opt_out_check_for(schema: str) -> OptOutCheck | None:
        return matcher.check_for(catalog.policy(schema).user_fields)

    return opt_out_check_for


class PolicyLoader:
    def __init__(
        self,
        config: str | os.PathLike | None,
        registry: SchemaRegistry,
        secret_file: str | None = None,
        optout_file: str | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.secret_file = secret_file
        self.optout_file = optout_file
        self.catalog: Catalog | None = None
        self._optout_path: Path | None = None
        self._stamps: tuple[Stamp, Stamp] = (None, None)  # catalog, opt-out list
        self._opted_out = 0  # users on the list in force

    @property
    def catalog_path(self) -> Path:
        return Path(self.config) if self.config else Path(DEFAULT_PATH)

    @property
    def opted_out(self) -> int:
        """Users on the opt-out list in force."""
        return self._opted_out

    def load(self) -> Policy:
        """Read the catalog and the opt-out list; raises UserError when either is invalid."""
        catalog_stamp = file_stamp(self.catalog_path)  # taken before reading: no change is missed
        catalog = load_catalog(self.config, self.registry)
        optout_path = resolve_optout_path(self.optout_file, catalog)
        optout_stamp = file_stamp(optout_path)
        optouts = OptOutList.load(optout_path)
        if optouts.mtime is None and self._opted_out and optout_path == self._optout_path:
            # A list that vanishes while users are on it is a mistake far more often than a
            # wish to store their events again: that takes an empty file.
            raise UserError(
                f"opt-out list {optout_path} is gone, with {self._opted_out} entries in force; "
                "their events stay dropped (restore it, or write an empty file to clear it)"
            )
        policy = Policy(samplers(catalog))
        if optouts.hashes:
            secret = resolve_secret(self.secret_file, catalog)
            matcher = OptOutMatcher(secret, optouts.hashes, catalog)
            policy = policy._replace(opt_out_check_for=opt_out_checks(catalog, matcher))
        self.catalog, self._optout_path = catalog, optout_path
        self._opted_out = len(optouts.hashes)
        self._stamps = (catalog_stamp, optout_stamp)
        log.info(
            "catalog %s: %d schemas configured, %d users opted out",
            self.catalog_path,
            len(catalog.schemas),
            len(optouts.hashes),
        )
        return policy

    def _current_stamps(self) -> tuple[Stamp, Stamp]:
        optout = file_stamp(self._optout_path) if self._optout_path is not None else None
        return file_stamp(self.catalog_path), optout

    def changed(self) -> bool:
        """Whether the catalog or the opt-out list on disk differs from the loaded ones."""
        return self._current_stamps() != self._stamps

    def reload(self) -> Policy | None:
        """The new policy, or None (logged) when the new files are invalid."""
        try:
            return self.load()
        except UserError as exc:
            # Remember what was on disk, so a broken file is reported once, not every second.
            self._stamps = self._current_stamps()
            log.error("reload refused, the previous catalog stays in force: %s", exc)
            return None
