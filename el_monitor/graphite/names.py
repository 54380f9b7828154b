"""Every Graphite metric name el-monitor writes or reads, built here and nowhere else.

A forwarder writes ``<prefix>.<instance>.<scope>.<measure>.{count,rate}``, ``scope`` being
``overall`` or ``schema.<Schema>``; ``overall`` also carries ``not_logged`` and what the
source lost or refused (``dropped``, ``damaged``, ``refused``, ``busy``, ``kernel_dropped``),
sent like the errors only in intervals where they grew; and its validation errors as
``<prefix>.<instance>.<scope>.errors.<code>.<path>.count``.  The check plugins and
notify read them back summed over instances, so any number of forwarders can feed one Graphite.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from el_monitor.measures import MEASURES, OVERALL, OVERALL_ONLY

DEFAULT_PREFIX = "eventlogging"
COUNT, RATE = "count", "rate"
SCHEMA = "schema"  # the node in front of a schema's name
MAX_PATH_NODE = 200

PREFIX = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_NODE_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_PATH_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def node(text: str) -> str:
    """One Graphite path node: characters outside ``[A-Za-z0-9_-]`` (dots too) become ``_``."""
    return _NODE_UNSAFE.sub("_", text) or "_"


def scope_node(scope: str) -> str:
    """``overall`` or ``schema.<Schema>``: the scope part of a metric name."""
    return OVERALL if scope == OVERALL else f"{SCHEMA}.{node(scope)}"


def schema_scope(glob: str) -> str:
    """The scope of the schemas a glob matches (``*``, ``{A,B}``, one name)."""
    return f"{SCHEMA}.{glob}"


def path_node(path: str | None) -> str:
    """A validation error's JSON path as one node: ``$.a.b[2].c`` → ``a_b_2__c``.

    ``none`` stands for errors without a path (parse, unknown schema), ``root`` for ``$``.
    """
    if path is None:
        return "none"
    path = path.removeprefix("$").removeprefix(".")
    return _PATH_UNSAFE.sub("_", path)[:MAX_PATH_NODE] if path else "root"


def code_node(code: str) -> str:
    """An error code as one node: ``unknown-schema`` → ``unknown_schema``."""
    return _PATH_UNSAFE.sub("_", code) or "_"


def error_text(code: str, path: str) -> str:
    """``validation at $.action`` from an errors metric's code and path nodes (the reverse of
    ``path_node``; ``other`` is what the emitter writes past its limit of distinct paths)."""
    if path == "root":
        return f"{code} at $"
    if path in ("none", ""):
        return code
    if path == "other":
        return f"{code} (at various paths)"
    return f"{code} at $.{path}"


def metric(scope: str, measure: str, kind: str) -> str:
    """``<scope>.<measure>.<kind>`` under an instance; any part may be a glob."""
    return f"{scope}.{measure}.{kind}"


def error_count(scope: str, code: str = "*", path: str = "*") -> str:
    """``<scope>.errors.<code>.<path>.count`` under an instance; any part may be a glob."""
    return f"{scope}.errors.{code}.{path}.{COUNT}"


def alternatives(names: Sequence[str]) -> str:
    """A Graphite glob matching exactly ``names``."""
    return names[0] if len(names) == 1 else "{" + ",".join(names) + "}"


def full_name(prefix: str, path: str, instance: str = "*") -> str:
    """``<prefix>.<instance>.<path>``: one forwarder's metric, or with ``*`` every forwarder's."""
    return f"{prefix}.{instance}.{path}"


def summed(prefix: str, path: str, instance: str = "*") -> str:
    """A target summing ``<prefix>.<instance>.<path>`` over instances, one series per match.

    ``groupByNodes`` keys on every node after the instance, so each resulting series is named
    by ``path`` with its wildcards filled in (``schema.NavigationTiming.raw.rate``), which
    keeps the scopes apart and lets one request carry every schema.  graphite-web 1.1 names a
    groupByNodes series by the dot-joined key nodes; ``"sum"`` adds nulls as missing.
    """
    first = _depth(prefix) + 1
    nodes = ",".join(str(n) for n in range(first, first + len(path.split("."))))
    return f'groupByNodes({full_name(prefix, path, instance)},"sum",{nodes})'


def by_instance(prefix: str, path: str, instance: str = "*") -> str:
    """A target with one series per forwarder instance, named by the instance."""
    return f'groupByNodes({full_name(prefix, path, instance)},"sum",{_depth(prefix)})'


def sum_series(prefix: str, scope: str, measure: str, kind: str = RATE) -> str:
    """The target that adds one metric up across every forwarder instance."""
    return f"sumSeries({full_name(prefix, metric(scope, measure, kind))})"


def aliased(target: str, label: str) -> str:
    """``target`` shown (in a graph's legend, a render answer) as ``label``."""
    return f'alias({target},"{label}")'


def _depth(prefix: str) -> int:
    return len(prefix.split("."))


class MetricNames:
    """One forwarder's full metric names, built once per scope: string formatting is most of
    what a flush of metric points costs."""

    MAX_SCOPES = 10_000  # the cache is rebuilt past this many scopes

    def __init__(self, prefix: str, instance: str, max_error_names: int) -> None:
        self.base = full_name(prefix, "", node(instance))  # ends with the dot of the path
        self.max_error_names = max_error_names
        self._measures: dict[str, tuple[tuple[str, str, str], ...]] = {}
        self._errors: dict[tuple[str, str, str | None], str] = {}

    def measures(self, scope: str) -> tuple[tuple[str, str, str], ...]:
        """``(measure, count name, rate name)`` for every measure of a scope."""
        names = self._measures.get(scope)
        if names is None:
            if len(self._measures) >= self.MAX_SCOPES:
                self._measures.clear()
            head = self.base + scope_node(scope)
            names = tuple((m, metric(head, m, COUNT), metric(head, m, RATE)) for m in MEASURES)
            self._measures[scope] = names
        return names

    def sparse(self, scope: str) -> tuple[tuple[str, str, str], ...]:
        """Like ``measures``, for the counts sent only when they grew (``not_logged``, the
        source's losses)."""
        if scope != OVERALL:
            return ()
        head = self.base + scope_node(scope)
        return tuple((m, metric(head, m, COUNT), metric(head, m, RATE)) for m in OVERALL_ONLY)

    def error(self, scope: str, code: str, path: str | None) -> str:
        """The count name of an error group.  Paths come from the wire (array indexes, odd
        keys), so past ``max_error_names`` distinct names new ones share ``<code>.other``:
        each name is a whisper file on the Graphite host."""
        key = (scope, code, path)
        name = self._errors.get(key)
        if name is None:
            head = self.base + scope_node(scope)
            if len(self._errors) >= self.max_error_names:
                return error_count(head, code_node(code), "other")
            name = self._errors[key] = error_count(head, code_node(code), path_node(path))
        return name
