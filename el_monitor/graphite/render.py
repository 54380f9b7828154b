"""Graphite render API client: the check plugins' only way to read metrics.

Check plugins import this module and must start fast, so it imports only the standard library;
``requests`` (about 60 ms to import) is loaded when the first client is built, so ``--help`` and
usage errors never pay for it.  Every failure becomes one ``RenderError`` subclass whose message
is a single line naming the URL and what went wrong, which a plugin can print as its UNKNOWN
status line as is.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import requests

MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a render answer this big is a runaway wildcard
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")


class Series(NamedTuple):
    """One series of a render answer, null points kept (a gap is information)."""

    target: str
    points: tuple[tuple[float | None, int], ...]  # (value, timestamp)

    def values(self) -> list[float]:
        """The non-null values, oldest first."""
        return [value for value, _ in self.points if value is not None]


class RenderError(Exception):
    """Graphite could not answer the query; ``str()`` is one line naming the URL."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"Graphite {url}: {problem}")
        self.url = url
        self.problem = problem


class GraphiteUnreachable(RenderError):
    """Connection refused, DNS failure, reset: nothing answered."""


class GraphiteTimeout(RenderError):
    """Connecting or reading took longer than the timeout."""


class GraphiteHTTPError(RenderError):
    """graphite-web answered with a 4xx/5xx status."""

    def __init__(self, url: str, status: int, detail: str) -> None:
        super().__init__(url, f"HTTP {status}" + (f": {detail}" if detail else ""))
        self.status = status


class GraphiteBadResponse(RenderError):
    """The answer was not render JSON (a proxy's page, a truncated body, a wrong shape)."""


class RenderClient:
    """Reads series from graphite-web's ``/render`` endpoint as JSON."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        import requests  # deferred: see the module docstring

        if not re.match(r"^https?://[^/]", base_url):
            raise ValueError(f"Graphite URL {base_url!r} must start with http:// or https://")
        if timeout <= 0:
            raise ValueError(f"Graphite timeout must be positive, not {timeout}")
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/render"
        self.timeout = timeout
        self._session: requests.Session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RenderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(
        self, targets: Sequence[str], from_: str = "-10min", until: str = "now"
    ) -> list[Series]:
        """The series for ``targets``; a metric Graphite does not know yields no series."""
        if isinstance(targets, str):
            targets = [targets]  # a bare string would otherwise become one target per letter
        params = [("target", t) for t in targets]
        params += [("from", from_), ("until", until), ("format", "json")]
        status, body = self._get(params)
        if status >= 400:
            raise GraphiteHTTPError(self.url, status, _first_line(body))
        return _parse(self.url, body)

    def _get(self, params: list[tuple[str, str]]) -> tuple[int, bytes]:
        """Status and body.  The timeout bounds connecting and each read, and the elapsed time
        is checked between 64 KiB chunks; the plugin's ``-t`` alarm is the hard bound."""
        import requests
        import urllib3.exceptions

        deadline = time.monotonic() + self.timeout
        try:
            with self._session.get(
                self.url, params=params, timeout=self.timeout, stream=True
            ) as response:
                chunks, size = [], 0
                for chunk in response.iter_content(65536):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise GraphiteBadResponse(
                            self.url, f"answer larger than {MAX_RESPONSE_BYTES} bytes"
                        )
                    if time.monotonic() > deadline:
                        raise GraphiteTimeout(self.url, self._timed_out("reading the answer"))
                return response.status_code, b"".join(chunks)
        except requests.Timeout:
            raise GraphiteTimeout(self.url, self._timed_out("waiting")) from None
        except requests.ConnectionError as exc:
            # A read timeout after the headers surfaces as a ConnectionError wrapping urllib3's.
            if any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args):
                raise GraphiteTimeout(self.url, self._timed_out("reading the answer")) from None
            raise GraphiteUnreachable(self.url, f"unreachable ({_reason(exc)})") from None
        except requests.RequestException as exc:
            raise GraphiteBadResponse(self.url, _reason(exc)) from None

    def _timed_out(self, doing: str) -> str:
        return f"no answer within {self.timeout:g} s ({doing}); raise -t or check graphite-web"


def _parse(url: str, body: bytes) -> list[Series]:
    def bad(problem: str) -> GraphiteBadResponse:
        return GraphiteBadResponse(url, problem)

    try:
        data = json.loads(body)
    except ValueError:
        raise bad(f"answer is not JSON: {_first_line(body)!r}") from None
    if not isinstance(data, list):
        raise bad(f"answer is a JSON {type(data).__name__}, not a list of series")
    series = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("target"), str):
            raise bad(f"series {i} has no string 'target'")
        raw = item.get("datapoints")
        if not isinstance(raw, list):
            raise bad(f"series {item['target']!r} has no 'datapoints' list")
        points = []
        for point in raw:
            if not (isinstance(point, list) and len(point) == 2):
                raise bad(f"series {item['target']!r}: point {point!r} is not [v, ts]")
            value, stamp = point
            if not (value is None or _is_number(value)) or not _is_number(stamp):
                raise bad(f"series {item['target']!r}: point {point!r} is not numbers")
            try:
                value = None if value is None or math.isnan(value) else float(value)
                points.append((value, int(stamp)))
            except (OverflowError, ValueError):
                raise bad(f"series {item['target']!r}: point {point!r} is out of range") from None
        series.append(Series(item["target"], tuple(points)))
    return series


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _first_line(body: bytes, limit: int = 200) -> str:
    """What graphite-web says went wrong: an HTML page's title, else the first line of text."""
    text = body[:65536].decode("utf-8", "replace")
    title = _TITLE.search(text)
    text = _TAG.sub(" ", title.group(1) if title else _HIDDEN.sub(" ", text))
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def _reason(exc: BaseException) -> str:
    """The innermost useful words of a requests/urllib3 error, on one line."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)  # "Connection refused", DNS
    if match:
        return match.group(1).strip()
    match = re.search(r"Connection broken: (\w+\([^)]*\))", text)  # body cut short
    if match:
        return f"connection broken mid-answer: {match.group(1)}"
    match = re.search(r"Caused by (\w+)\(", text)  # urllib3's class name says enough
    return match.group(1) if match else " ".join(text.split())[:200]
