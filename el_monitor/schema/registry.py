"""Schema registries (directory, HTTP): where revisions are found, compiled once and kept.

Registries compile lazily (``el_monitor.schema.compiled``) and keep each revision forever,
because revisions are immutable; misses are remembered briefly so a flood of events naming an
unknown schema costs a dict lookup, not a disk read or an HTTP request each.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Protocol

from el_monitor.errors import SchemaError, UserError
from el_monitor.event.names import is_revision, is_schema_name
from el_monitor.schema.compiled import CompiledSchema, compile_schema

__all__ = [
    "DirectoryRegistry",
    "HttpRegistry",
    "SchemaRegistry",
    "open_registry",
    "require_schemas",
]

log = logging.getLogger(__name__)

_MAX_SCHEMA_BYTES = 10 << 20


class SchemaRegistry(Protocol):
    def get(self, name: str, revision: str) -> CompiledSchema | None: ...

    def revisions(self) -> list[tuple[str, str]]: ...


class _CachingRegistry:
    """Name checks, compile-once caching and brief negative caching shared by registries."""

    _MAX_MISSES = 4096

    def __init__(self, negative_ttl: float) -> None:
        self._compiled: dict[tuple[str, str], CompiledSchema] = {}
        self._misses: dict[tuple[str, str], tuple[float, SchemaError | None]] = {}
        self._negative_ttl = negative_ttl
        self._lock = threading.Lock()

    def get(self, name: str, revision: str) -> CompiledSchema | None:
        key = (name, revision)
        try:
            found = self._compiled.get(key)
        except TypeError:  # unhashable name from untrusted input
            return None
        if found is not None:
            return found
        if not (is_schema_name(name) and is_revision(revision)):
            return None
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                return found
            now = time.monotonic()
            miss = self._misses.get(key)
            if miss is not None and miss[0] > now:
                if miss[1] is not None:
                    raise SchemaError(str(miss[1]))
                return None
            try:
                found = self._load(name, revision)
            except SchemaError as exc:
                self._miss(key, now, exc)
                raise
            if found is None:
                self._miss(key, now, None)
                return None
            self._compiled[key] = found
            self._misses.pop(key, None)
            return found

    def _miss(self, key: tuple[str, str], now: float, error: SchemaError | None) -> None:
        if len(self._misses) >= self._MAX_MISSES:
            self._misses.clear()
        self._misses[key] = (now + self._negative_ttl, error)

    def _load(self, name: str, revision: str) -> CompiledSchema | None:
        raise NotImplementedError


def _parse(data: bytes, source: str, yaml_syntax: bool = False) -> dict:
    try:
        if yaml_syntax:
            import yaml

            raw = yaml.safe_load(data)
        else:
            raw = json.loads(data)
    except Exception as exc:  # JSONDecodeError, YAMLError, UnicodeDecodeError
        kind = "YAML" if yaml_syntax else "JSON"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchemaError(f"{source}: not valid {kind}: {reason}") from None
    if not isinstance(raw, dict):
        raise SchemaError(f"{source}: a schema must be a JSON object")
    return raw


def _compile_file(name: str, revision: str, raw: dict, source: str) -> CompiledSchema:
    try:
        return compile_schema(name, revision, raw)
    except SchemaError as exc:
        raise SchemaError(f"{source}: {exc}") from None


def _yaml_available() -> bool:
    """Whether PyYAML is installed, without importing it (20 ms of every command's start-up)."""
    return importlib.util.find_spec("yaml") is not None


class DirectoryRegistry(_CachingRegistry):
    """Schemas in ``<dir>/<Schema>/<revision>.json`` (``.yaml``/``.yml`` with PyYAML)."""

    def __init__(self, path: str | os.PathLike, *, negative_ttl: float = 10.0) -> None:
        super().__init__(negative_ttl)
        self.path = Path(path)
        if not self.path.is_dir():
            raise UserError(
                f"schema directory {self.path} does not exist or is not a directory;"
                " point to a directory of <Schema>/<revision>.json files"
            )
        if not os.access(self.path, os.R_OK | os.X_OK):
            raise UserError(f"schema directory {self.path} is not readable; fix its permissions")
        self._suffixes = (".json", ".yaml", ".yml") if _yaml_available() else (".json",)

    def _load(self, name: str, revision: str) -> CompiledSchema | None:
        for suffix in self._suffixes:
            file = self.path / name / (revision + suffix)
            try:
                data = file.read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise SchemaError(f"{file}: cannot read schema: {exc.strerror}") from None
            raw = _parse(data, str(file), yaml_syntax=suffix != ".json")
            return _compile_file(name, revision, raw, str(file))
        return None

    def revisions(self) -> list[tuple[str, str]]:
        found = set()
        try:
            for folder in os.scandir(self.path):
                if not is_schema_name(folder.name) or not folder.is_dir():
                    continue
                for entry in os.scandir(folder.path):
                    stem, dot, ext = entry.name.rpartition(".")
                    if dot + ext in self._suffixes and is_revision(stem):
                        found.add((folder.name, stem))
        except OSError as exc:
            raise UserError(f"schema directory {self.path}: {exc.strerror}") from None
        return sorted(found)


class HttpRegistry(_CachingRegistry):
    """Schemas fetched from ``<base_url>/<Schema>/<revision>.json``, cached on disk forever.

    Unknown revisions (404) and unreachable servers give None and are retried after
    ``negative_ttl`` seconds, so an outage costs one warning per schema, not one per event.
    ``revisions()`` lists what has been cached: a repository cannot be enumerated.
    """

    def __init__(
        self,
        base_url: str,
        cache_dir: str | os.PathLike,
        timeout: float = 5.0,
        *,
        negative_ttl: float = 30.0,
    ) -> None:
        super().__init__(negative_ttl)
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UserError(f"schema repository {base_url!r} must be an http:// or https:// URL")
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir)
        self.timeout = timeout
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(
                f"schema cache directory {self.cache_dir}: {exc.strerror}; choose a writable one"
            ) from None

    def _load(self, name: str, revision: str) -> CompiledSchema | None:
        cached = self.cache_dir / name / f"{revision}.json"
        try:
            data = cached.read_bytes()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise SchemaError(f"{cached}: cannot read cached schema: {exc.strerror}") from None
        else:
            return _compile_file(name, revision, _parse(data, str(cached)), str(cached))
        url = f"{self.base_url}/{name}/{revision}.json"
        fetched = self._fetch(url)
        if fetched is None:
            return None
        found = _compile_file(name, revision, _parse(fetched, url), url)
        try:
            cached.parent.mkdir(exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            partial.write_bytes(fetched)
            os.replace(partial, cached)
        except OSError as exc:
            log.warning("cannot cache schema %s in %s: %s", url, cached, exc)
        return found

    def _fetch(self, url: str) -> bytes | None:
        import urllib.request  # here: most runs read a directory, and it is slow to import

        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                data = response.read(_MAX_SCHEMA_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code not in (404, 410):
                log.warning("schema repository: %s answered HTTP %s", url, exc.code)
            return None
        except (OSError, ValueError) as exc:  # URLError, timeouts, resets, bad URLs
            log.warning("schema repository unreachable: %s: %s", url, exc)
            return None
        if len(data) > _MAX_SCHEMA_BYTES:
            raise SchemaError(f"{url}: schema larger than {_MAX_SCHEMA_BYTES >> 20} MiB")
        return data

    def revisions(self) -> list[tuple[str, str]]:
        found = set(self._compiled)
        for file in self.cache_dir.glob("*/*.json"):
            name, revision = file.parent.name, file.name[: -len(".json")]
            if is_schema_name(name) and is_revision(revision):
                found.add((name, revision))
        return sorted(found)


def open_registry(location: str, cache_dir: str | os.PathLike) -> SchemaRegistry:
    """The registry a ``--schemas DIR|URL`` option names; ``cache_dir`` serves only URLs."""
    if location.startswith(("http://", "https://")):
        return HttpRegistry(location, cache_dir)
    return DirectoryRegistry(location)


def require_schemas(registry: SchemaRegistry, location: str) -> list[tuple[str, str]]:
    """The revisions the registry lists, refusing a directory that holds none: a typo or the
    wrong folder would otherwise make every event an unknown-schema error.  An HTTP
    repository cannot be listed (only what was cached), so it is taken as it is."""
    revisions = registry.revisions()
    if not revisions and isinstance(registry, DirectoryRegistry):
        raise UserError(
            f"schema directory {location} holds no schemas (<Schema>/<revision>.json files); "
            "check --schemas"
        )
    return revisions
