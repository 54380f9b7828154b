"""A schema revision compiled for the hot path: translated, generated, or left to jsonschema.

``compile_schema`` is the one way a registry turns a schema document into a validator: the
draft-07 translation (``el_monitor.schema.draft``), then the code generator
(``el_monitor.schema.generator``), or the ``jsonschema`` package for the few keywords the
generator does not compile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from el_monitor.errors import SchemaError
from el_monitor.schema.draft import draft_of, effective_schema
from el_monitor.schema.generator import Unsupported, compile_validator
from el_monitor.schema.runtime import ValidationFailure, Validator, path_step
from el_monitor.schema.typed import first_pass

__all__ = ["CompiledSchema", "compile_schema"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompiledSchema:
    """A schema revision ready for the hot path; ``validate`` returns None when valid."""

    name: str
    revision: str
    schema: dict  # the effective draft-07 schema
    validate: Validator


def _fallback(schema: dict, keyword: str, label: str) -> Validator:
    """Validate with the ``jsonschema`` package: exact, slow, for what we do not compile."""
    try:
        import jsonschema
    except ImportError:
        raise SchemaError(
            f"{label}: keyword {keyword!r} needs the jsonschema package; reinstall el-monitor"
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
            # jsonschema validates any Python object; its stubs accept only JSON-like types.
            error = next(validator.iter_errors(event), None)  # type: ignore[arg-type]
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
        validate = first_pass(
            schema, compile_validator(schema, modern=draft_of(raw) > 7, label=label)
        )
    except Unsupported as exc:
        validate = _fallback(schema, str(exc), label)
    except SchemaError as exc:
        raise SchemaError(f"{label}: {exc}") from None
    except (RecursionError, MemoryError, SyntaxError):
        raise SchemaError(f"{label}: schema is nested too deeply to compile") from None
    return CompiledSchema(name, revision, schema, validate)
