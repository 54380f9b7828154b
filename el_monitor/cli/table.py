"""The one plain-text table of the command line: forward's summary, ``schemas``, purge's summary.

Plain text rather than box drawing so the output can be grepped, pasted into a ticket or cut
with ``awk``: columns are separated by two spaces, names are aligned left and numbers right,
and trailing blanks are dropped so a last text column leaves no ragged whitespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def format_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[bool] | None = None,
    total: Sequence[str] | None = None,
    rules: bool = True,
) -> str:
    """Aligned columns with a rule (dashes) under the header and, when given, before ``total``.

    ``numeric`` says which columns align right; by default every column but the first (a name
    followed by counts).  ``rules=False`` leaves both rules out: the total is then a last row.
    """
    body = [list(row) for row in rows]
    last = [list(total)] if total is not None else []
    right = list(numeric) if numeric is not None else [False] + [True] * (len(header) - 1)
    if len(right) != len(header):
        raise ValueError(f"{len(header)} columns but {len(right)} alignments")
    widths = [max(len(cells[i]) for cells in [header, *body, *last]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if flush_right else cell.ljust(width)
            for cell, width, flush_right in zip(cells, widths, right, strict=True)
        ).rstrip()

    rule = ["  ".join("-" * width for width in widths)] if rules else []
    lines = [line(header), *rule, *map(line, body)]
    if total is not None:
        lines += [*rule, line(total)]
    return "\n".join(lines)
