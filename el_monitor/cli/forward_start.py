"""The one line a forwarder logs when it starts, shown whatever ``-v`` says: what it runs
(version), where events come from (the address it really bound, also for port 0), where they
go, which schemas it knows, which catalog is in force and the sampling and opt-out it applies,
so an operator reading the journal after a restart sees how this run is configured."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from el_monitor import __version__

if TYPE_CHECKING:
    from el_monitor.ingest.policy import PolicyLoader
    from el_monitor.ingest.sources.base import Source

_START = logging.getLogger("el_monitor.start")
SAMPLED_SHOWN = 5  # schemas named with their rate; more are counted


def log_start(
    input_uri: str,
    source: Source,
    store: str,
    revisions: Sequence[tuple[str, str]],
    schemas: str,
    loader: PolicyLoader,
) -> None:
    _START.setLevel(logging.INFO)
    _START.info(start_line(input_uri, source, store, revisions, schemas, loader))


def start_line(
    input_uri: str,
    source: Source,
    store: str,
    revisions: Sequence[tuple[str, str]],
    schemas: str,
    loader: PolicyLoader,
) -> str:
    names = {name for name, _ in revisions}
    catalog = loader.catalog
    configured = len(catalog.schemas) if catalog is not None else 0
    where = str(loader.catalog_path) if catalog is not None and catalog.path else "none"
    return (
        f"el-monitor {__version__} forwarding {_bound(input_uri, source)} into {store}; "
        f"{len(names)} schemas ({len(revisions)} revisions) from {schemas}; "
        f"catalog {where} ({configured} schemas configured); sampling {_sampling(loader)}; "
        f"opt-out {loader.opted_out} users"
    )


def _bound(input_uri: str, source: Source) -> str:
    """The input as given, with the address the socket really bound for network inputs."""
    address = getattr(source, "address", None)
    if not isinstance(address, tuple):
        return input_uri
    host, port = address[:2]
    host = f"[{host}]" if ":" in str(host) else host
    return f"{urlsplit(input_uri).scheme}://{host}:{port}"


def _sampling(loader: PolicyLoader) -> str:
    catalog = loader.catalog
    if catalog is None:
        return "none"
    rates = sorted(
        (name, catalog.policy(name).sample_rate)
        for name in catalog.schemas
        if catalog.policy(name).sample_rate > 1
    )
    if catalog.defaults.sample_rate > 1:
        rates.insert(0, ("every other schema", catalog.defaults.sample_rate))
    if not rates:
        return "none"
    shown = ", ".join(f"{name} 1 in {rate}" for name, rate in rates[:SAMPLED_SHOWN])
    more = len(rates) - SAMPLED_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
