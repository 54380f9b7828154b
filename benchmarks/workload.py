"""The input every figure reads: corpus lines generated before anything is timed, in memory and
in files, with the number of valid ones known from the generator's labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import corpus

from el_monitor.ingest.sources.base import Chunk

CHUNK_LINES = 1000  # lines per chunk, as a file source hands them to the pipeline


@dataclass(frozen=True)
class Corpus:
    lines: list[bytes]  # in memory, for the in-process figures
    valid: int  # how many of ``lines`` are valid
    file_valid: dict[int, int]  # for each file written: how many of its lines are valid


def make_corpus(
    size: int,
    fmt: str,
    seed: int,
    files: dict[int, Path] | None = None,
    events: str = "small",
    schemas: Sequence[str] = (),
) -> Corpus:
    """``size`` lines in memory; and, for each ``files`` entry ``n: path``, the first ``n``
    lines of the same stream written to ``path`` (the stream continues past ``size``).
    ``events`` and ``schemas`` choose the traffic (``corpus.Generator``).
    Valid counts come from the generator's labels, to check what the stores commit."""
    files = files or {}
    total = max([size, *files])
    handles = {n: open(path, "wb", buffering=1 << 20) for n, path in files.items()}  # noqa: SIM115
    lines: list[bytes] = []
    valid = 0
    file_valid = dict.fromkeys(files, 0)
    try:
        for index, (line, kind) in enumerate(
            corpus.Generator(seed, 0.10, fmt, events, schemas).lines(total)
        ):
            if index < size:
                lines.append(line)
                valid += kind is None
            for n, handle in handles.items():
                if index < n:
                    handle.write(line + b"\n")
                    file_valid[n] += kind is None
    finally:
        for handle in handles.values():
            handle.close()
    return Corpus(lines, valid, file_valid)


def chunks(lines: Sequence[bytes]) -> list[Chunk]:
    return [Chunk(list(lines[i : i + CHUNK_LINES])) for i in range(0, len(lines), CHUNK_LINES)]


def count_problem(what: str, counted: int, valid: int) -> str:
    """ "" when ``counted`` matches the corpus's valid lines, else what differs."""
    return "" if counted == valid else f"{counted:,} {what}, corpus has {valid:,} valid"
