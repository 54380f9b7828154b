"""How the benchmarks take their figures: best of a few runs, back-to-back pairs, medians of
child processes.

Each run returns a ``Run``: the rate it timed itself (so set-up stays outside the clock) and what
was wrong with its output, because a fast but wrong run must not pass.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

REPEAT = 3  # runs behind a best-of figure


class Run(NamedTuple):
    """One timed run: events/s, and what was wrong with its output ("" when nothing)."""

    rate: float
    problem: str = ""


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def timed(work: Callable[[], int]) -> float:
    """Events/s of one call of ``work``, which returns how many events it handled."""
    gc.collect()
    start = time.perf_counter()
    events = work()
    return events / (time.perf_counter() - start)


def best_of(run: Callable[[], Run], repeat: int = REPEAT) -> Run:
    """The fastest of ``repeat`` runs (the one least disturbed by other load), carrying the
    first problem any of them had."""
    runs = [run() for _ in range(repeat)]
    problems = [r.problem for r in runs if r.problem]
    return Run(max(r.rate for r in runs), problems[0] if problems else "")


def each_line(lines: Sequence[bytes], decode: Callable[[bytes], object]) -> float:
    """The best-of rate of ``decode`` called on every line and nothing else (a floor):
    lines it refuses with a ValueError (the corpus's malformed ones) cost only that."""

    def work() -> int:
        for line in lines:
            try:  # noqa: SIM105 - suppress() would add a context manager per line to the floor
                decode(line)
            except ValueError:
                pass
        return len(lines)

    return best_of(lambda: Run(timed(work))).rate


@dataclass(frozen=True)
class Paired:
    """Runs without and with a feature, back to back: a burst of load on a shared machine moves
    one pair, not the comparison."""

    base: tuple[float, ...]  # events/s without the feature, one per pair
    feature: tuple[float, ...]  # events/s with it, same order
    problem: str

    @property
    def ratios(self) -> list[float]:
        return [f / b for b, f in zip(self.base, self.feature, strict=True)]

    def middle(self) -> tuple[float, float]:
        """The pair whose ratio is the median (the upper one of two for an even count): its
        two figures and its ratio are printed together, so they always agree."""
        ratios = self.ratios
        index = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]
        return self.base[index], self.feature[index]


def paired(run: Callable[[bool], Run], pairs: int) -> Paired:
    """``pairs`` rounds of ``run(False)`` then ``run(True)``."""
    base: list[float] = []
    feature: list[float] = []
    problems: list[str] = []
    for _ in range(pairs):
        for with_feature, rates in ((False, base), (True, feature)):
            result = run(with_feature)
            rates.append(result.rate)
            if result.problem:
                problems.append(result.problem)
    return Paired(tuple(base), tuple(feature), problems[0] if problems else "")


def median_ms(
    commands: Iterable[list[str]],
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Median wall time of running each command, process start to exit, and the last result."""
    times = []
    done = None
    for args in commands:
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True)
        times.append((time.perf_counter() - start) * 1000)
    if done is None:
        raise ValueError("no command to time")
    times.sort()
    return times[len(times) // 2], done


def use_test_harness(root: Path) -> None:
    """Make the test suite's harness (a private graphite-web, an SMTP server) importable: the
    benchmarks start the same servers the tests do."""
    tests = str(root / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
