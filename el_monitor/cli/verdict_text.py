"""How a verdict reads on a terminal, for ``validate`` and ``devserver`` alike: a head line
(where, schema, revision, the verdict) and, for an invalid event, one indented block per error
with its path, message, the failing value and the schema's description of the property.
Colour only when asked (a terminal): piped output stays plain for grep and tickets."""

from __future__ import annotations

from collections.abc import Sequence

from el_monitor.cli.table import format_table
from el_monitor.ingest.verdicts import Tally, Verdict

_GREEN, _RED, _DIM, _RESET = "\033[32m", "\033[31m", "\033[2m", "\033[0m"


def verdict_lines(where: str, verdict: Verdict, *, colour: bool = False) -> list[str]:
    """``where`` names the event (``line 12``, ``GET /beacon/event``)."""

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    name = f"{verdict.schema or '-'} {verdict.revision or '-'}"
    if verdict.valid:
        return [f"{where}: {name}: {paint(_GREEN, 'valid')}"]
    count = len(verdict.problems)
    what = f"invalid ({verdict.code}, {count} error{'s' if count != 1 else ''})"
    lines = [f"{where}: {name}: {paint(_RED, what)}"]
    for problem in verdict.problems:
        lines.append(f"  {problem.path or '-'}: {problem.message}")
        if problem.value is not None:
            lines.append(paint(_DIM, f"    value: {problem.value}"))
        if problem.description is not None:
            lines.append(paint(_DIM, f"    description: {problem.description}"))
    return lines


def tally_table(tally: Tally) -> str:
    rows: Sequence[tuple[str, int, int]] = tally.rows()
    return format_table(
        ("schema", "valid", "invalid"),
        [(name, str(valid), str(invalid)) for name, valid, invalid in rows],
        total=("total", str(sum(r[1] for r in rows)), str(sum(r[2] for r in rows))),
    )


def verdict_line(verdict: Verdict, *, colour: bool = False) -> str:
    """One line: schema and revision, then ``valid`` or every error as ``path: message``."""
    name = f"{verdict.schema or '-'} {verdict.revision or '-'}"
    if verdict.valid:
        return f"{name} {_GREEN + 'valid' + _RESET if colour else 'valid'}"
    errors = "; ".join(f"{p.path or '-'}: {p.message}" for p in verdict.problems)
    word = f"invalid ({verdict.code})"
    return f"{name} {_RED + word + _RESET if colour else word}: {errors}"
