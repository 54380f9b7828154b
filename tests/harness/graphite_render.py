"""Asking the test Graphite's render API: one query, polling until an answer holds, and the
points of a series.

Carbon creates a metric's whisper file in place (whisper.create opens it, then writes the
header and allocates the archives), and graphite-web reads any .wsp file it finds: a render in
between fails with HTTP 500 (struct.error in whisper.py). render() raises that as
WhisperFileIncomplete, and wait_for() treats it as "not there yet".
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from harness.wait import wait_until

Series = list[dict[str, Any]]


class GraphiteError(RuntimeError):
    """The private Graphite could not start or does not answer; the message has the logs."""


class WhisperFileIncomplete(GraphiteError):
    """graphite-web read a whisper file that carbon is still creating (HTTP 500 from whisper's
    struct.error on a header or archive not written yet): ask again."""


def _whisper_incomplete(body: str) -> bool:
    # The 500 page is graphite-web's traceback: a short read of a file being created.
    return "whisper.py" in body and "unpack requires a buffer of" in body


def points(series: Series, target: str | None = None) -> list[tuple[int, float]]:
    """The non-null (timestamp, value) pairs of one series of a render answer.

    With `target`, the series of that name; otherwise the answer must hold exactly one series.
    """
    if target is not None:
        chosen = [s for s in series if s["target"] == target]
        if not chosen:
            raise KeyError(f"no series {target!r} in {[s['target'] for s in series]}")
    else:
        chosen = series
    if len(chosen) != 1:
        raise ValueError(f"expected one series, got {[s['target'] for s in chosen]}")
    return [(int(ts), value) for value, ts in chosen[0]["datapoints"] if value is not None]


def render(
    base_url: str,
    target: str | Sequence[str],
    from_: str | int = "-1h",
    until: str | int = "now",
    timeout: float = 10.0,
    *,
    logs: Callable[[], str],
    **params: Any,
) -> Series:
    """GET base_url/render?format=json for one or several targets; the decoded list of series.

    An HTTP error raises GraphiteError (WhisperFileIncomplete for a file still being created)
    with the answer and `logs()`.
    """
    targets = [target] if isinstance(target, str) else list(target)
    query = [("target", t) for t in targets]
    query += [("from", str(from_)), ("until", str(until)), ("format", "json")]
    query += [(k, str(v)) for k, v in params.items()]
    url = f"{base_url}/render?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        error = WhisperFileIncomplete if _whisper_incomplete(body) else GraphiteError
        raise error(f"GET {url}: HTTP {exc.code}\n{body[-2000:]}\n{logs()}") from exc


def wait_for(
    base_url: str,
    target: str | Sequence[str],
    predicate: Callable[[Series], bool] | None = None,
    timeout: float = 30.0,
    from_: str | int = "-1h",
    until: str | int = "now",
    *,
    logs: Callable[[], str],
    **params: Any,
) -> Series:
    """Poll the render API until `predicate(series)` holds; return that answer.

    The default predicate: some series has a non-null point. A render that reads a whisper
    file carbon is still creating is "not yet". On timeout, AssertionError with the last
    answer (or error) and `logs()`.
    """
    check = predicate or _any_point
    last: list[Any] = ["no answer"]

    def holds() -> bool:
        try:
            last[0] = render(base_url, target, from_=from_, until=until, logs=logs, **params)
        except WhisperFileIncomplete as exc:
            last[0] = exc
            return False
        return check(last[0])

    wait_until(
        holds,
        timeout,
        lambda: (
            f"Graphite to satisfy the predicate for {target!r}; last answer: "
            f"{_short(last[0]) if isinstance(last[0], list) else last[0]}\n{logs()}"
        ),
        interval=0.1,
    )
    return last[0]


def _any_point(series: Series) -> bool:
    return any(value is not None for s in series for value, _ in s["datapoints"])


def _short(series: Series) -> str:
    return json.dumps(
        [
            {"target": s["target"], "points": [p for p in s["datapoints"] if p[0] is not None]}
            for s in series
        ]
    )[:2000]
