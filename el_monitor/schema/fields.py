"""An event schema's declared fields as the catalog names them: dotted paths, nested too.

The catalog checks the field names a policy writes against these paths, and the schema review
(``retention.review``) reads each field's own schema from them; one walk serves both, so a
field the catalog accepts is a field the review sees.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

__all__ = ["Field", "declared_fields", "json_type"]


class Field(NamedTuple):
    """One declared property: its dotted path (``performer.user_id``) and its schema."""

    path: str
    spec: Mapping[str, Any]


def declared_fields(schema: object, prefix: str = "") -> Iterator[Field]:
    """Every declared property, objects and their nested properties alike, through
    ``allOf``/``anyOf``/``oneOf``; a path met twice (two branches) is given once."""
    seen: set[str] = set()
    for found in _walk(schema, prefix):
        if found.path not in seen:
            seen.add(found.path)
            yield found


def _walk(schema: object, prefix: str) -> Iterator[Field]:
    if not isinstance(schema, Mapping):
        return
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            yield Field(prefix + name, sub if isinstance(sub, Mapping) else {})
            yield from _walk(sub, f"{prefix}{name}.")
    for key in ("allOf", "anyOf", "oneOf"):
        subs = schema.get(key)
        if isinstance(subs, list):
            for sub in subs:
                yield from _walk(sub, prefix)


def json_type(spec: Mapping[str, Any]) -> str | None:
    """The one JSON type a property allows besides null (``["string", "null"]`` is a string);
    None when it names none or several."""
    types = spec.get("type")
    if isinstance(types, list):
        non_null = [t for t in types if t != "null"]
        types = non_null[0] if len(non_null) == 1 else None
    return types if isinstance(types, str) else None
