"""Data acquisition: the render API as a plugin sees it, and its answer as a :class:`Frame`.

This is what a plugin's ``nagiosplugin.Resource.probe`` asks.  Targets come from
:mod:`el_monitor.graphite.names`; a ``names.summed`` answer names each series by the metric
path with its wildcards filled in, so a plugin reads a series back by the same path it asked
for (``frame.values(names.metric(names.OVERALL, "raw", names.RATE))``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import nagiosplugin

from el_monitor.graphite.render import RenderClient, Series

CLIENT_SHARE = 0.8  # of -t given to each render request, so the client times out before the alarm
MIN_BUDGET = 0.05  # seconds a request gets however little of -t is left


class Window(NamedTuple):
    """The time window a check looks at, as Graphite's ``from``/``until``."""

    from_: str
    until: str

    def label(self) -> str:
        """``the last 10min`` for a relative window, else ``from X until Y``."""
        if self.from_.startswith("-") and self.until == "now":
            return f"the last {self.from_[1:]}"
        return f"from {self.from_} until {self.until}"


class Graphite:
    """The render API for one window, with a timeout that fits under ``-t``.

    Each request gets at most 80% of what is left of ``-t`` so that a slow Graphite ends as the
    client's clear ``GraphiteTimeout`` rather than the alarm's blunter one.
    """

    def __init__(self, url: str, window: Window, timeout: float) -> None:
        self.url = url
        self.window = window
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout

    def render(
        self, targets: Sequence[str], from_: str | None = None, until: str | None = None
    ) -> list[Series]:
        """The series of ``targets`` over the window (or over ``from_``/``until`` instead)."""
        left = self._deadline - time.monotonic()
        budget = max(MIN_BUDGET, min(self._timeout * CLIENT_SHARE, left * CLIENT_SHARE))
        with RenderClient(self.url, timeout=budget) as client:
            return client.render(
                targets,
                from_=self.window.from_ if from_ is None else from_,
                until=self.window.until if until is None else until,
            )

    def no_data(self, metrics: str) -> nagiosplugin.CheckError:
        """The UNKNOWN a probe raises when ``metrics`` (a full glob) have no points."""
        return nagiosplugin.CheckError(
            f"no data for {metrics} over {self.window.label()} in Graphite {self.url}: "
            "is any forwarder sending metrics there?"
        )


class Frame:
    """A render answer by series name: the metric path each ``names.summed`` series carries."""

    def __init__(self, series: Iterable[Series]) -> None:
        self._series = {s.target: s for s in series}

    def __bool__(self) -> bool:
        return any(s.values() for s in self._series.values())

    def get(self, path: str) -> Series | None:
        return self._series.get(path)

    def values(self, path: str) -> list[float]:
        """The non-null values of one series; none when Graphite returned no such series."""
        found = self._series.get(path)
        return found.values() if found is not None else []

    def total(self, path: str) -> float:
        return math.fsum(self.values(path))

    def matching(self, pattern: str) -> dict[tuple[str, ...], Series]:
        """The series whose path matches ``pattern`` (nodes literal or ``*``), keyed by what its
        ``*`` nodes stood for: ``matching("schema.*.raw.rate")`` → ``{("Edit",): series}``."""
        nodes = pattern.split(".")
        stars = [i for i, node in enumerate(nodes) if node == "*"]
        found: dict[tuple[str, ...], Series] = {}
        for path in sorted(self._series):
            parts = path.split(".")
            if len(parts) == len(nodes) and all(
                n in ("*", p) for n, p in zip(nodes, parts, strict=True)
            ):
                found[tuple(parts[i] for i in stars)] = self._series[path]
        return found
