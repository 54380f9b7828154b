"""The benchmarks' beacon client: corpus lines POSTed as JSON arrays over keep-alive
connections, as many clients at once as a busy site's front ends would hold open."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Sequence

import orjson

CONNECTIONS = 8
RETRY_SECONDS = 0.02  # a client's pause before sending a POST answered 503 again


def is_json(line: bytes) -> bool:
    """Whether ``line`` parses: a malformed line would turn its whole POST into a 400."""
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def post_body(events: Sequence[bytes]) -> bytes:
    return b"[" + b",".join(events) + b"]"


async def post_all(
    port: int, bodies: Iterable[bytes], resend_busy: bool = False
) -> tuple[float, list[int]]:
    """Every body POSTed over CONNECTIONS keep-alive connections (a new one after an answer
    that closes it); with ``resend_busy``, a body answered 503 is sent again until answered
    otherwise.  Seconds taken and each body's last status."""
    statuses: list[int] = []
    queue = iter(bodies)

    async def client() -> None:
        connection = None
        for body in queue:
            while True:
                if connection is None:
                    connection = await asyncio.open_connection("127.0.0.1", port)
                reader, writer = connection
                writer.write(
                    b"POST /v1/events HTTP/1.1\r\nHost: bench\r\n"
                    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                if re.search(rb"(?i)connection: *close", head):
                    writer.close()
                    connection = None
                status = int(head.split(b" ", 2)[1])
                if status != 503 or not resend_busy:
                    statuses.append(status)
                    break
                await asyncio.sleep(RETRY_SECONDS)
        if connection is not None:
            connection[1].close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONNECTIONS)))
    return time.perf_counter() - start, statuses
