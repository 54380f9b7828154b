"""``schemas review``: a new schema revision checked before deployment, as a privacy or data
reviewer would, so that a merge can be gated on it.

The checks (their ids are stable; ``--json`` and the tests use them):

* ``identifier``: a field that looks like personal data (``retention.sensitive``: ids, tokens,
  names, IPs, emails, free text, URLs and titles) that the catalog neither lists in
  ``user_fields`` nor under ``hash``: nobody has said it is personal, so opt-out cannot find it.
* ``kept-identifier``: such a field listed in ``keep`` and not hashed: it survives sanitizing,
  so it outlives the retention the policy promises.
* ``unbounded-string``: a string with no ``maxLength`` (nor ``enum``/``const``): its column
  takes any text, free text and pasted URLs included.
* ``no-owner``: the catalog names no owner, so nobody is alerted or asked about the data.
* ``no-sampling``: ``sample_rate`` 1 on a high-volume schema, which is one whose catalog
  ``max_rate`` is above the ``[defaults]`` one, or one of ``PAGE_VIEW_SCHEMAS``, which
  Wikimedia sends on every page view.
* ``dropped-field``: a field a rollup (``aggregate`` dimensions) or ``keep`` needs that this
  revision lacks, although another revision has it.
* ``unreadable``: the revision cannot be read or compiled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from el_monitor.catalog.model import CAPSULE_FIELDS, Catalog, SchemaPolicy
from el_monitor.catalog.tomllines import did_you_mean
from el_monitor.errors import SchemaError, UserError
from el_monitor.event.names import revision_key
from el_monitor.retention.sensitive import ERROR, WARNING, sensitive
from el_monitor.schema.fields import Field, declared_fields, json_type
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store.mapping import VARCHAR_LIMIT

__all__ = ["CHECKS", "PAGE_VIEW_SCHEMAS", "Finding", "review", "select_revisions"]

CHECKS = (
    "unreadable",
    "no-owner",
    "identifier",
    "kept-identifier",
    "dropped-field",
    "no-sampling",
    "unbounded-string",
)
# Schemas sent on every page view in Wikimedia production: high-volume whatever max_rate says.
PAGE_VIEW_SCHEMAS = frozenset(
    {
        "NavigationTiming",
        "PaintTiming",
        "FirstInputDelay",
        "CpuBenchmark",
        "CentralNoticeImpression",
        "VirtualPageView",
        "ReferencePreviewsBaseline",
    }
)
_SEVERITY_ORDER = {ERROR: 0, WARNING: 1}


class Finding(NamedTuple):
    """One thing a reviewer would ask about one revision; ``field`` is None for the schema."""

    schema: str
    revision: str
    field: str | None
    check: str
    severity: str
    message: str

    def as_json(self) -> dict[str, object]:
        return self._asdict()

    def order(self) -> tuple[Any, ...]:
        """Schema, revision (as counted), errors first, then field and check: a stable order."""
        return (
            self.schema,
            revision_key(self.revision),
            _SEVERITY_ORDER[self.severity],
            self.field or "",
            CHECKS.index(self.check),
        )


def select_revisions(registry: SchemaRegistry, wanted: Sequence[str]) -> list[tuple[str, str]]:
    """The revisions ``wanted`` names (``Schema/revision``, or ``Schema`` for its latest);
    without any, every schema's latest.  An unknown name is a UserError."""
    by_schema: dict[str, list[str]] = {}
    for name, revision in registry.revisions():
        by_schema.setdefault(name, []).append(revision)
    for revisions in by_schema.values():
        revisions.sort(key=revision_key)
    if not wanted:
        return [(name, revisions[-1]) for name, revisions in sorted(by_schema.items())]
    chosen = []
    for item in wanted:
        name, slash, revision = item.partition("/")
        if name not in by_schema:
            raise UserError(f"no schema {name!r} in the registry{did_you_mean(name, by_schema)}")
        if not slash:
            revision = by_schema[name][-1]
        elif revision not in by_schema[name]:
            known = ", ".join(by_schema[name])
            raise UserError(f"no revision {revision!r} of {name} in the registry (it has {known})")
        chosen.append((name, revision))
    return list(dict.fromkeys(chosen))


def review(
    registry: SchemaRegistry, catalog: Catalog, revisions: Iterable[tuple[str, str]]
) -> list[Finding]:
    """Every finding on ``revisions`` under ``catalog``, in a stable order."""
    fields = _Fields(registry)
    findings: list[Finding] = []
    for name, revision in revisions:
        found = _Review(name, revision, catalog.policy(name))
        try:
            own = fields.of(name, revision)
        except SchemaError as exc:
            found.add(None, "unreadable", ERROR, f"cannot be reviewed: {exc}")
            findings += found.findings
            continue
        found.schema_checks(catalog.defaults)
        for field in own.values():
            found.field_checks(field)
        found.needed_fields(own, fields.others(name, revision))
        findings += found.findings
    return sorted(findings, key=Finding.order)


class _Fields:
    """Each revision's declared fields, read from the registry once per review."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self.cache: dict[tuple[str, str], dict[str, Field]] = {}
        self.listed = registry.revisions()

    def of(self, name: str, revision: str) -> dict[str, Field]:
        key = (name, revision)
        if key not in self.cache:
            compiled = self.registry.get(name, revision)
            if compiled is None:
                raise SchemaError(f"{name}/{revision} is not in the registry")
            self.cache[key] = {f.path: f for f in declared_fields(compiled.schema)}
        return self.cache[key]

    def others(self, name: str, revision: str) -> list[tuple[str, Mapping[str, Field]]]:
        """The schema's other readable revisions, latest first."""
        found = []
        for other_name, other in self.listed:
            if other_name == name and other != revision:
                try:
                    found.append((other, self.of(name, other)))
                except SchemaError:
                    continue  # reviewed on its own when asked for; here it knows no fields
        return sorted(found, key=lambda item: revision_key(item[0]), reverse=True)


class _Review:
    """The findings on one revision, collected check by check."""

    def __init__(self, schema: str, revision: str, policy: SchemaPolicy) -> None:
        self.schema, self.revision, self.policy = schema, revision, policy
        self.findings: list[Finding] = []
        self.hashed = policy.hash

    def add(self, field: str | None, check: str, severity: str, message: str) -> None:
        self.findings.append(Finding(self.schema, self.revision, field, check, severity, message))

    def schema_checks(self, defaults: SchemaPolicy) -> None:
        policy = self.policy
        if not policy.owners:
            self.add(
                None,
                "no-owner",
                ERROR,
                "no owner in the catalog: nobody is alerted or asked about this data; add "
                f'owners = ["team@example.org"] under [schema.{self.schema}]',
            )
        if policy.sample_rate == 1:
            if policy.max_rate > defaults.max_rate:
                why = (
                    f"its max_rate {policy.max_rate:g}/s is above the default "
                    f"{defaults.max_rate:g}/s"
                )
            elif self.schema in PAGE_VIEW_SCHEMAS:
                why = "it is sent on every page view"
            else:
                return
            self.add(
                None,
                "no-sampling",
                WARNING,
                f"high-volume ({why}) but every event is kept (sample_rate 1): set "
                "sample_rate (keep 1 in N) and a sample_key",
            )

    def field_checks(self, field: Field) -> None:
        path, spec = field.path, field.spec
        if json_type(spec) == "string" and not {"maxLength", "enum", "const"} & spec.keys():
            self.add(
                path,
                "unbounded-string",
                WARNING,
                f"no maxLength: its VARCHAR({VARCHAR_LIMIT}) column takes any text (free text, "
                "pasted URLs); set maxLength, or an enum, to what the field needs",
            )
        found = sensitive(path, spec)
        if found is None or _listed(path, self.hashed):
            return
        kind = found.kind
        looks = f"looks like {kind.what}: {found.because}"
        if _listed(path, self.policy.keep):
            self.add(
                path,
                "kept-identifier",
                ERROR,
                f"{looks} and is in keep: it survives sanitizing, so it outlives the "
                f"{self.policy.retention_days}-day retention; take it out of keep, or hash it",
            )
        elif not _listed(path, self.policy.user_fields):
            self.add(
                path,
                "identifier",
                kind.severity,
                f"{looks}; not in user_fields or hash: {kind.advice}",
            )

    def needed_fields(
        self, own: Mapping[str, Field], others: Sequence[tuple[str, Mapping[str, Field]]]
    ) -> None:
        """Rollup dimensions and kept fields this revision lacks but another has."""
        needs: dict[str, tuple[str, str]] = {}
        for rollup in self.policy.aggregate:
            for dimension in rollup.dimensions:
                needs.setdefault(dimension, (f"the rollup {rollup.name!r}", ERROR))
        for kept in self.policy.keep:
            needs.setdefault(kept, ("keep", WARNING))
        for path, (who, severity) in needs.items():
            if path in CAPSULE_FIELDS or path in own:
                continue
            having = [revision for revision, fields in others if path in fields]
            if not having:
                continue  # no revision has it: `catalog check` names that typo
            earlier = [r for r in having if revision_key(r) < revision_key(self.revision)]
            since = f"revision {earlier[0]} had it" if earlier else f"revision {having[0]} has it"
            self.add(
                path,
                "dropped-field",
                severity,
                f"{who} needs this field and this revision does not have it ({since}): "
                "keep the field, or change the catalog before deploying",
            )


def _listed(path: str, names: Iterable[str]) -> bool:
    """Whether the catalog lists ``path`` or an object holding it."""
    return any(path == name or path.startswith(name + ".") for name in names)
