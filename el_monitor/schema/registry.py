"""Schema registries (directory, HTTP), draft-3 → draft-07 translation, compiled validators.

EventLogging's schemas were draft 3 (``"required": true`` on properties); Wikimedia's current
ones are draft 07.  Every schema is translated once to an *effective* draft-07 schema (plus
EventLogging's top-level ``additionalProperties: false``) and compiled into Python by
``el_monitor.schema.generator``.  Registries compile lazily and keep each revision forever, because
revisions are immutable; misses are remembered briefly so a flood of events naming an unknown
schema costs a dict lookup, not a disk read or an HTTP request each.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from el_monitor.errors import SchemaError, UserError
from el_monitor.event.names import is_revision, is_schema_name
from el_monitor.schema.generator import Unsupported, compile_validator, subschemas
from el_monitor.schema.runtime import ValidationFailure, path_step

__all__ = [
    "CompiledSchema",
    "DirectoryRegistry",
    "HttpRegistry",
    "SchemaRegistry",
    "ValidationFailure",
    "compile_schema",
    "effective_schema",
    "open_registry",
]

log = logging.getLogger(__name__)

DRAFT7_URI = "http://json-schema.org/draft-07/schema#"
_DRAFTS = {
    "json-schema.org/draft-03/schema": 3,
    "json-schema.org/draft-04/schema": 4,
    "json-schema.org/draft-06/schema": 6,
    "json-schema.org/draft-07/schema": 7,
    "json-schema.org/draft/2019-09/schema": 2019,
    "json-schema.org/draft/2020-12/schema": 2020,
}
# Keywords a draft's validator does not know (so ignores) but draft 07 would enforce.
_UNKNOWN_IN = {
    3: frozenset(
        {"allOf", "anyOf", "oneOf", "not", "minProperties", "maxProperties", "multipleOf"}
        | {"const", "contains", "propertyNames", "if", "then", "else", "required"}
    ),
    4: frozenset({"const", "contains", "propertyNames", "if", "then", "else"}),
    6: frozenset({"if", "then", "else"}),
    7: frozenset(),
}
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_VALUES = (
    "additionalItems", "additionalProperties", "contains", "propertyNames", "not", "if", "then",
    "else",
)  # fmt: skip
_MAX_SCHEMA_BYTES = 10 << 20


@dataclass(frozen=True)
class CompiledSchema:
    """A schema revision ready for the hot path; ``validate`` returns None when valid."""

    name: str
    revision: str
    schema: dict  # the effective draft-07 schema
    validate: Callable[[object], ValidationFailure | None]


class SchemaRegistry(Protocol):
    def get(self, name: str, revision: str) -> CompiledSchema | None: ...

    def revisions(self) -> list[tuple[str, str]]: ...


# --- translation ---------------------------------------------------------------------------


def _draft(raw: dict) -> int:
    uri = raw.get("$schema")
    if isinstance(uri, str):
        draft = _DRAFTS.get(uri.partition("://")[2].rstrip("#"))
        if draft:
            return draft
    elif uri is None and any(
        isinstance(sub, dict) and isinstance(sub.get("required"), bool)
        for node in subschemas(raw)
        if isinstance(node.get("properties"), dict)
        for sub in node["properties"].values()
    ):
        return 3
    return 7


def _type_schemas(types: list, draft: int) -> list:
    return [{"type": t} if isinstance(t, str) else _translate(t, draft) for t in types]


def _translate(schema: object, draft: int) -> object:
    """One subschema of a draft-``draft`` schema, rewritten to mean the same in draft 07."""
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    drop = _UNKNOWN_IN[draft]
    out: dict = {}
    for key, value in schema.items():
        if key in drop:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _translate(sub, draft) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            out[key] = _translate(value, draft)
        elif key in ("items", "allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_translate(sub, draft) for sub in value]
        elif key == "items":
            out[key] = _translate(value, draft)
        elif key == "dependencies" and isinstance(value, dict):
            out[key] = {
                name: [dep] if isinstance(dep, str) else _translate(dep, draft)
                for name, dep in value.items()
            }
        elif draft == 3 and key in ("type", "disallow", "extends", "divisibleBy"):
            _translate_draft3(out, key, value)
        elif draft <= 4 and key == "id" and isinstance(value, str):
            out["$id"] = value
        else:
            out[key] = copy.deepcopy(value)
    if draft <= 4:  # boolean exclusiveMinimum/Maximum modify minimum/maximum
        for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if flag in out and out.pop(flag) and bound in out:
                out[flag] = out.pop(bound)
    if draft == 3 and isinstance(schema.get("properties"), dict):
        required = [
            name
            for name, sub in schema["properties"].items()
            if isinstance(sub, dict) and sub.get("required", False)
        ]
        if required:
            out["required"] = required
    return out


def _translate_draft3(out: dict, key: str, value: object) -> None:
    """Draft 3's union types, ``disallow``, ``extends`` and ``divisibleBy`` in draft-07 terms."""
    if key == "divisibleBy":
        out["multipleOf"] = value
    elif key == "extends":
        subs = value if isinstance(value, list) else [value]
        out["allOf"] = [_translate(sub, 3) for sub in subs]
    elif key == "type":
        types = value if isinstance(value, list) else [value]
        if "any" in types:
            return
        if all(isinstance(t, str) for t in types):
            out["type"] = value
        else:
            out["anyOf"] = _type_schemas(types, 3)
    else:  # disallow: valid only when none of the listed types matches
        types = value if isinstance(value, list) else [value]
        if "any" in types:
            out["not"] = {}
        elif all(isinstance(t, str) for t in types):
            out["not"] = {"type": types}
        else:
            out["not"] = {"anyOf": _type_schemas(types, 3)}


def effective_schema(raw: dict) -> dict:
    """The draft-07 schema that validates like ``raw`` under its own draft, with EventLogging's
    default of no undeclared top-level properties.

    Drafts 2019-09 and 2020-12 are kept as they are (validated by ``jsonschema`` when they use
    keywords whose meaning changed).  Known gap: draft 3/4 ``integer`` rejects 3.0, draft 07
    accepts it.
    """
    if not isinstance(raw, dict):
        raise SchemaError("a schema must be a JSON object")
    draft = _draft(raw)
    try:
        if draft > 7:
            out = copy.deepcopy(raw)
        else:
            out = _translate(raw, draft)
            out["$schema"] = DRAFT7_URI
    except RecursionError:
        raise SchemaError("schema is nested too deeply") from None
    if "additionalProperties" not in out and "unevaluatedProperties" not in out:
        out["additionalProperties"] = False
    return out


# --- compilation ---------------------------------------------------------------------------


def _fallback(
    schema: dict, keyword: str, label: str
) -> Callable[[object], ValidationFailure | None]:
    """Validate with the ``jsonschema`` package: exact, slow, for what we do not compile."""
    try:
        import jsonschema
    except ImportError:
        raise SchemaError(
            f"{label}: keyword {keyword!r} needs the jsonschema package; install el-monitor[test]"
            " or rewrite the schema in plain draft 07"
        ) from None
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise SchemaError(f"{label}: {_clip(exc.message)}") from None
    validator = cls(schema)
    log.info("%s: validated by jsonschema (slow) because of %r", label, keyword)

    def validate(event: object) -> ValidationFailure | None:
        try:
            error = next(validator.iter_errors(event), None)
            if error is None:
                return None
            path = "$" + "".join(
                f"[{step}]" if isinstance(step, int) else path_step(step)
                for step in error.absolute_path
            )
            return ValidationFailure(path, _clip(error.message))
        except RecursionError:
            return ValidationFailure("$", "value is nested too deeply to validate")
        except Exception as exc:  # never crash the forwarder on a hostile value
            return ValidationFailure("$", f"cannot validate value: {type(exc).__name__}")

    return validate


def _clip(message: str) -> str:
    """jsonschema's messages embed whole reprs of (untrusted) values."""
    return message if len(message) <= 300 else message[:297] + "..."


def compile_schema(name: str, revision: str, raw: dict) -> CompiledSchema:
    """Translate and compile one schema revision; a broken schema raises ``SchemaError``."""
    label = f"schema {name}/{revision}"
    try:
        schema = effective_schema(raw)
    except SchemaError as exc:
        raise SchemaError(f"{label}: {exc}") from None
    try:
        validate = compile_validator(schema, modern=_draft(raw) > 7, label=label)
    except Unsupported as exc:
        validate = _fallback(schema, str(exc), label)
    except SchemaError as exc:
        raise SchemaError(f"{label}: {exc}") from None
    except (RecursionError, MemoryError, SyntaxError):
        raise SchemaError(f"{label}: schema is nested too deeply to compile") from None
    return CompiledSchema(name, revision, schema, validate)


# --- registries ----------------------------------------------------------------------------


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
    try:
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


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
        data = self._fetch(url)
        if data is None:
            return None
        found = _compile_file(name, revision, _parse(data, url), url)
        try:
            cached.parent.mkdir(exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            partial.write_bytes(data)
            os.replace(partial, cached)
        except OSError as exc:
            log.warning("cannot cache schema %s in %s: %s", url, cached, exc)
        return found

    def _fetch(self, url: str) -> bytes | None:
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
