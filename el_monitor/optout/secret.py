"""The site secret that keys every opt-out hash: from a file or the environment, never argv."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from el_monitor.errors import UserError

if TYPE_CHECKING:
    from el_monitor.catalog.model import Catalog

log = logging.getLogger(__name__)

SECRET_ENV = "EL_MONITOR_SECRET"


def read_secret_file(path: str | os.PathLike[str]) -> bytes:
    """The secret in ``path`` without its trailing newline; warns when others can read it."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            data = file.read()
    except OSError as exc:
        raise UserError(f"secret file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("secret file %s is readable by group or others: chmod 600 it", path)
    if data.endswith(b"\n"):
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    if not data:
        raise UserError(f"secret file {path} is empty: put the site secret in it")
    return data


def resolve_secret(
    secret_file: str | os.PathLike[str] | None,
    catalog: Catalog | None = None,
    environ: Mapping[str, str] | None = None,
) -> bytes:
    """The site secret: ``--secret-file``, else the catalog's ``secret_file``, else
    ``$EL_MONITOR_SECRET``.  Without one no hash can be computed, so it is an error."""
    if secret_file:
        return read_secret_file(secret_file)
    if catalog is not None and catalog.secret_file:
        return read_secret_file(catalog.secret_file)
    value = (os.environ if environ is None else environ).get(SECRET_ENV)
    if value:
        return value.encode()
    raise UserError(
        "no opt-out secret: pass --secret-file FILE, set secret_file in the catalog "
        f"(--config), or set the {SECRET_ENV} environment variable"
    )
