"""Evaluation: a window's points or one value against ``-w``/``-c``, and the words for why.

nagiosplugin's ``ScalarContext`` judges one value; a window of Graphite points needs a rule on
top (``--percent`` of the points outside a range), and a status line needs to say how many
crossed which range.  :class:`Verdict` carries that, as the hint of a ``Result``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import nagiosplugin
from nagiosplugin import Critical, Ok, Range, Warn
from nagiosplugin.state import ServiceState

from el_monitor.checks.output import num, performance, range_text

Thresholds = tuple[Range | None, Range | None]  # (warning, critical)


class Points(NamedTuple):
    """A window's non-null values: a metric value whose perfdata is the mean."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float | None:
        return math.fsum(self.values) / len(self.values) if self.values else None

    @property
    def peak(self) -> float | None:
        return max(self.values) if self.values else None

    def __str__(self) -> str:
        return "no data" if self.mean is None else num(self.mean)


class Verdict(NamedTuple):
    """Why a window got its state: how many of its points crossed which range.

    Used as a Result's hint, so ``str()`` is what a status line says about it.
    """

    state: ServiceState
    range: Range | None
    crossed: int
    total: int

    def __str__(self) -> str:
        if not self.total:
            return "no points"
        if self.range is None:
            return f"{self.total} points"
        return f"{self.crossed} of {self.total} points {crossing(self.range)}"


def crossing(rng: Range) -> str:
    """How a value fails ``rng``, in words: ``above 200``, ``below 5``, ``outside 5:10``."""
    if rng.invert:
        return f"inside {range_text(rng)}"
    if rng.end == math.inf:
        return f"below {num(rng.start)}"
    if rng.start <= 0:
        return f"above {num(rng.end)}"
    return f"outside {range_text(rng)}"


def compared(value: float, rng: Range) -> str:
    """``> 200`` / ``< 5`` / ``in @1:2``: a value against the range it fails."""
    if rng.invert:
        return f"in {range_text(rng)}"
    if value > rng.end:
        return f"> {num(rng.end)}"
    if value < rng.start:
        return f"< {num(rng.start)}"
    return f"within {range_text(rng)}"


def judge_window(
    values: Sequence[float], warning: Range | None, critical: Range | None, percent: float
) -> Verdict:
    """The state of a window: critical (or warning) when at least ``percent``% of its points
    fall outside that range.  An OK verdict counts against the warning range, for the record."""
    total = len(values)
    for state, rng in ((Critical, critical), (Warn, warning)):
        if rng is None or not total:
            continue
        crossed = sum(1 for v in values if not rng.match(v))
        if crossed and crossed * 100 >= percent * total:
            return Verdict(state, rng, crossed, total)
    rng = warning if warning is not None else critical
    crossed = sum(1 for v in values if not rng.match(v)) if rng is not None else 0
    return Verdict(Ok, rng, crossed, total)


def judge_value(value: float, warning: Range | None, critical: Range | None) -> ServiceState:
    """nagiosplugin's ScalarContext rule, with ``None`` meaning no threshold."""
    if critical is not None and not critical.match(value):
        return Critical
    if warning is not None and not warning.match(value):
        return Warn
    return Ok


class WindowContext(nagiosplugin.Context):
    """Evaluates a :class:`Points` metric with the ``--percent`` rule; perfdata is the mean."""

    def __init__(
        self,
        name: str,
        warning: Range | None,
        critical: Range | None,
        percent: float,
        minimum: float | None = 0,
    ) -> None:
        super().__init__(name)
        self.warning = warning
        self.critical = critical
        self.percent = percent
        self.minimum = minimum

    def thresholds(self, metric: nagiosplugin.Metric) -> Thresholds:
        """The ranges for one metric; a subclass may vary them per metric (per schema)."""
        return self.warning, self.critical

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        warning, critical = self.thresholds(metric)
        points: Points = metric.value
        verdict = judge_window(points.values, warning, critical, self.percent)
        return nagiosplugin.Result(verdict.state, verdict, metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        warning, critical = self.thresholds(metric)
        points: Points = metric.value
        return performance(metric.name, points.mean, metric.uom, warning, critical, self.minimum)


class ValueContext(nagiosplugin.Context):
    """Evaluates one number against ``-w``/``-c`` (:func:`judge_value`); perfdata is the number.

    ``value`` picks the number out of the metric's value, for metrics that carry more.
    """

    def __init__(
        self,
        name: str,
        warning: Range | None,
        critical: Range | None,
        minimum: float | None = 0,
        maximum: float | None = None,
    ) -> None:
        super().__init__(name)
        self.warning = warning
        self.critical = critical
        self.minimum = minimum
        self.maximum = maximum

    def value(self, metric: nagiosplugin.Metric) -> float:
        number: float = metric.value
        return number

    def failed(self, result: nagiosplugin.Result) -> Range | None:
        """The range a result of this context failed (``None`` when OK without a warning)."""
        return self.critical if result.state == Critical else self.warning

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        state = judge_value(self.value(metric), self.warning, self.critical)
        return nagiosplugin.Result(state, None, metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return performance(
            metric.name,
            self.value(metric),
            metric.uom,
            self.warning,
            self.critical,
            self.minimum,
            self.maximum,
        )


class PerfContext(nagiosplugin.Context):
    """A metric reported as perfdata only, never judged (e.g. the top schemas' rates)."""

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return performance(metric.name, metric.value, metric.uom, minimum=metric.min)
