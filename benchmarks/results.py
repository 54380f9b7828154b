"""The result table of ``make bench``: each figure, how it was taken, its ratio to a floor or
ceiling measured in the same run, its target and a verdict.

Figures from different machines compare through their ratios.  A verdict is information about
one figure on one machine: it never decides the exit status (a shared 2-core machine misses
timing targets under load while nothing is wrong).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from measure import Paired

EVENTS = "ev/s"
ROWS = "rows/s"
NO_TARGET = "no target"


@dataclass(frozen=True)
class Reference:
    """A floor or ceiling measured in the same run (a bare ``json.loads`` loop, a bare
    interpreter): a figure is also stated as a ratio to it."""

    label: str
    value: float


@dataclass(frozen=True)
class Target:
    """What a figure should be; ``on_ratio`` targets judge the ratio to the reference."""

    text: str
    met: Callable[[float], bool]
    on_ratio: bool = False


def at_least(bound: float, unit: str) -> Target:
    return Target(f">= {bound:,g} {unit}", lambda value: value >= bound)


def at_most(bound: float, unit: str) -> Target:
    return Target(f"<= {bound:,g} {unit}", lambda value: value <= bound)


def below(bound: float, unit: str) -> Target:
    return Target(f"< {bound:,g} {unit}", lambda value: value < bound)


def within(centre: float, tolerance: float, unit: str) -> Target:
    return Target(
        f"{centre:g} +- {tolerance:g} {unit}", lambda value: abs(value - centre) <= tolerance
    )


def ratio_at_least(bound: float, label: str) -> Target:
    return Target(f">= {bound:.2f}x {label}", lambda ratio: ratio >= bound, on_ratio=True)


@dataclass(frozen=True)
class Figure:
    """One line of the table."""

    name: str
    value: float | None  # None: not measured, ``problem`` says why
    unit: str
    taken: str  # how: "best of 3", "median of 20", "1 run", ...
    reference: Reference | None = None
    target: Target | None = None
    problem: str = ""  # the measured work went wrong (rows missing, a child failed)

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.reference is None:
            return None
        return self.value / self.reference.value

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "NOT RUN"
        if self.problem:
            return "WRONG"
        if self.target is None:
            return "-"
        judged = self.ratio if self.target.on_ratio else self.value
        return "PASS" if judged is not None and self.target.met(judged) else "FAIL"


@dataclass(frozen=True)
class Planned:
    """A figure that may not be measurable here (no server, packages missing): its line says
    what it is and what it should be either way."""

    name: str
    unit: str
    target: Target

    def measured(self, value: float, taken: str, reference: Reference, problem: str = "") -> Figure:
        return Figure(self.name, value, self.unit, taken, reference, self.target, problem)

    def not_measured(self, why: str) -> Figure:
        return Figure(self.name, None, self.unit, "-", target=self.target, problem=why)


def compared(
    paired: Paired,
    without: str,
    with_: str,
    ceiling: Reference,
    target: Target,
) -> list[Figure]:
    """The middle pair of ``paired`` as two lines: the line without the feature against the
    ceiling, and the line with it against the line without (the ratio the target judges)."""
    base, feature = paired.middle()
    ratios = paired.ratios
    taken = f"middle of {len(ratios)} pairs"
    spread = f"same pair (all {min(ratios):.2f}-{max(ratios):.2f}x)"
    return [
        Figure(without, base, EVENTS, taken, ceiling, problem=paired.problem),
        Figure(with_, feature, EVENTS, spread, Reference("without", base), target, paired.problem),
    ]


def _result(figure: Figure) -> str:
    if figure.value is None:
        return "-"
    if figure.unit in (EVENTS, ROWS):
        return f"{figure.value:,.0f} {figure.unit}"
    if figure.unit == "%":
        return f"{figure.value:.3f} %"
    if figure.unit == "s":
        return f"{figure.value:,.2f} s"
    return f"{figure.value:,.1f} {figure.unit}"


def table(figures: Sequence[Figure]) -> str:
    """The figures as aligned columns, then one line per figure that went wrong."""
    header = ("measure", "result", "taken", "ratio to floor/ceiling", "target", "verdict")
    body = []
    for figure in figures:
        ratio, reference = figure.ratio, figure.reference
        ratio_text = (
            "" if ratio is None or reference is None else f"{ratio:6.2f}x {reference.label}"
        )
        target = figure.target.text if figure.target else NO_TARGET
        body.append(
            (figure.name, _result(figure), figure.taken, ratio_text, target, figure.verdict)
        )
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i == 1 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    problems = [f"  ! {f.name.strip()}: {f.problem}" for f in figures if f.problem]
    return "\n".join([line(header), rule, *map(line, body), *problems])


def summary(figures: Sequence[Figure]) -> str:
    """How many figures got each verdict, in the table's words."""
    verdicts = Counter(figure.verdict for figure in figures)
    order = ("PASS", "FAIL", "WRONG", "NOT RUN")
    parts = [f"{verdicts[v]} {v}" for v in order if verdicts[v]]
    if verdicts["-"]:
        parts.append(f"{verdicts['-']} without a target")
    return ", ".join(parts)


def titled(title: str, figures: list[Figure]) -> list[Figure]:
    """``figures`` named as taken on ``title``'s corpus (their indented sub-lines as they are)."""
    return [
        f if f.name.startswith(" ") else dataclasses.replace(f, name=f"{title}: {f.name}")
        for f in figures
    ]
