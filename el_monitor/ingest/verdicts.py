"""One event's verdict, judged by the forwarder's own pipeline, with every error explained.

``el-monitor validate`` and ``el-monitor devserver`` must say what the forwarder would say of
the same line: so each line goes through a real ``Pipeline`` (the same parser, capsule rules,
registry and compiled validators, the catalog left out: no sampling, no opt-out), and only an
event the pipeline rejected is looked at again to list all of its errors
(``el_monitor.schema.explain``).  Nothing is stored or logged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

import orjson

from el_monitor.counts.counters import Counters
from el_monitor.errors import VALIDATION, EventError, SchemaError
from el_monitor.event.capsule import CapsuleError
from el_monitor.event.formats import JSON_FORMAT, ParseError, make_parser
from el_monitor.ingest.pipeline import Pipeline
from el_monitor.ingest.sources.base import Chunk
from el_monitor.schema.explain import Problem, explain
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.schema.runtime import ValidationFailure

__all__ = ["BARE_WIKI", "Judge", "Tally", "Verdict", "bare_capsule"]

BARE_WIKI = "validate"  # the wiki a bare event is wrapped with (a capsule must name one)
VALID = "valid"


class Verdict(NamedTuple):
    """What the forwarder makes of one line: ``code`` is ``valid`` or the EventError code."""

    schema: str | None
    revision: str | None
    code: str
    path: str | None  # the one path the forwarder records for it (None: valid, or no path)
    problems: tuple[Problem, ...]  # empty when valid

    @property
    def valid(self) -> bool:
        return self.code == VALID

    def as_json(self) -> dict:
        return {
            "schema": self.schema,
            "revision": self.revision,
            "valid": self.valid,
            "code": self.code,
            "path": self.path,
            "errors": [p._asdict() for p in self.problems],
        }


class Judge:
    """Lines in, verdicts out, through the forwarder's pipeline; ``host`` is the ``recvFrom``
    of lines that name none, as the forwarder's ``--host``."""

    def __init__(self, registry: SchemaRegistry, fmt: str = JSON_FORMAT, host: str = "validate"):
        self.registry = registry
        self.parse = make_parser(fmt, host)
        self._outcome: list[dict | EventError] = []
        self.pipeline = Pipeline(
            self.parse, registry, Counters(), self._outcome.append, self._outcome.append
        )

    def judge(self, line: bytes, defaults: Mapping[str, object] | None = None) -> Verdict:
        self._outcome.clear()
        self.pipeline.process(Chunk([line], defaults))
        if len(self._outcome) != 1:  # an opted-out request (DNT, GPC): counted, not judged
            return Verdict(None, None, "opted-out", None, ())
        result = self._outcome[0]
        if isinstance(result, dict):
            return Verdict(result["schema"], result["revision"], VALID, None, ())
        problems = self._problems(line, defaults, result)
        return Verdict(result.schema, result.revision, result.code, result.path, problems)

    def _problems(
        self, line: bytes, defaults: Mapping[str, object] | None, error: EventError
    ) -> tuple[Problem, ...]:
        """Every error of a rejected line: all of them for a schema's, else the one found."""
        only = (Problem(error.path or "", error.message, None, None),)
        if error.code != VALIDATION or error.path is None or not error.path.startswith("$"):
            return only
        try:
            capsule = self.parse(line, defaults)
            compiled = self.registry.get(capsule["schema"], capsule["revision"])
        except (ParseError, CapsuleError, SchemaError):
            return only
        if compiled is None:
            return only
        first = ValidationFailure(error.path, error.message)
        return tuple(explain(compiled, capsule["event"], first))


def bare_capsule(line: bytes, schema: str, revision: str) -> bytes:
    """A bare event (``--schema``/``--revision``) as the capsule line a producer would send.
    A line that is not JSON is left alone, so the pipeline reports it as it would."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    capsule = {"schema": schema, "revision": revision, "wiki": BARE_WIKI, "event": event}
    return orjson.dumps(capsule)


class Tally:
    """Valid and invalid verdicts per schema (``-`` for lines naming none)."""

    def __init__(self) -> None:
        self.valid: Counter[str] = Counter()
        self.invalid: Counter[str] = Counter()

    def add(self, verdict: Verdict) -> None:
        name = verdict.schema or "-"
        if verdict.valid:
            self.valid[name] += 1
        else:
            self.invalid[name] += 1

    def rows(self) -> list[tuple[str, int, int]]:
        """(schema, valid, invalid), by name."""
        names = sorted(set(self.valid) | set(self.invalid))
        return [(name, self.valid[name], self.invalid[name]) for name in names]
