"""A small, strict HTTP/1.1 request reader and response writer on asyncio streams.

Only what the beacon needs: a request line and headers under fixed size limits, bodies framed
by Content-Length (chunked is refused with 411), keep-alive, and ``Expect: 100-continue``.
Anything else is a ``BadRequest`` carrying the status to answer, after which the connection
is closed, since its framing can no longer be trusted.  Deadlines are the caller's: it wraps
a whole request (headers and body) in one, so a client trickling bytes cannot hold a
connection by sending just often enough.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 100
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class BadRequest(Exception):
    """A request that cannot be served: answer ``status`` and close the connection."""

    def __init__(self, status: HTTPStatus, text: str, **headers: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers


@dataclass
class Request:
    method: str
    target: str  # as sent, decoded as latin-1 so encoding it back gives the bytes
    version: str
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens

    def content_length(self) -> int | None:
        """The declared body size; None without one.  Raises BadRequest when it is not a
        number, or when the request asks for a transfer coding."""
        if "transfer-encoding" in self.headers:
            raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "send Content-Length, not chunked")
        text = self.headers.get("content-length")
        if text is None:
            return None
        size = content_length(text)
        if size is None:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        return size


async def read_line(reader: asyncio.StreamReader, limit: int, status: HTTPStatus) -> bytes:
    """One CRLF- (or LF-) terminated line without its terminator, at most ``limit`` bytes."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError as exc:
        raise BadRequest(status, status.phrase) from exc
    except asyncio.IncompleteReadError as exc:
        raise ConnectionResetError("client closed mid-request") from exc
    if len(line) > limit:
        raise BadRequest(status, status.phrase)
    return line[:-2] if line.endswith(b"\r\n") else line[:-1]


async def read_head(reader: asyncio.StreamReader, first: bytes, max_target: int) -> Request:
    """The request line (whose first byte the caller already read) and the headers."""
    line = first + await read_line(reader, max_target + 16, HTTPStatus.REQUEST_URI_TOO_LONG)
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[0] or not set(parts[0]) <= _TOKEN or not parts[1]:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed request line")
    method, target, version = parts
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise BadRequest(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "HTTP/1.1 only")
    if any(b <= 0x20 or b == 0x7F for b in target):
        raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed request target")
    request = Request(method.decode("ascii"), target.decode("latin-1"), version.decode("ascii"))
    total = count = 0
    headers = request.headers
    while True:
        raw = await read_line(reader, MAX_HEADER_BYTES, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        if not raw:
            return request
        total += len(raw)
        count += 1
        if total > MAX_HEADER_BYTES or count > MAX_HEADERS:
            raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers too large")
        name, colon, value = raw.partition(b":")
        if not colon or not name or not set(name) <= _TOKEN:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed header line")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in headers:
            if key == "content-length" and headers[key] != text:
                raise BadRequest(HTTPStatus.BAD_REQUEST, "conflicting Content-Length")
            text = f"{headers[key]}, {text}" if key != "content-length" else text
        headers[key] = text


def response(
    status: HTTPStatus, text: str = "", headers: dict[str, str] | None = None, close: bool = False
) -> bytes:
    """A whole response: status line, headers, and a short plain-text body."""
    body = f"{text}\n".encode() if text else b""
    lines = [f"HTTP/1.1 {status.value} {status.phrase}", "Server: el-monitor"]
    if status != HTTPStatus.NO_CONTENT:
        lines.append(f"Content-Length: {len(body)}")
    if body:
        lines.append("Content-Type: text/plain; charset=utf-8")
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def content_length(text: str) -> int | None:
    """The declared body size, or None when it is not a decimal number.  Past 18 digits it
    is simply huge: ``int()`` refuses over 4,300 digits, and a client may send that many."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 18 else 10**18
