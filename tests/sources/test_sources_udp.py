"""The UDP source on a loopback socket: lines from datagrams, and a full queue dropping and
counting what it cannot hold."""

from __future__ import annotations

import socket

from harness.wait import wait_until

from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.udp import UdpSource

from .support import IDLE, Reader


def udp_send(address: tuple[str, int], *datagrams: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, address)


def test_udp_lines_from_datagrams() -> None:
    source = open_source("udp://127.0.0.1:0", idle_interval=IDLE, max_line_bytes=20)
    reader = Reader(source)
    udp_send(source.address, b"a\nb\r\n\nc", b"d\n", b"e" * 30)
    assert reader.lines(5) == [b"a", b"b", b"c", b"d", b"e" * 21]
    assert source.name == "udp://127.0.0.1:0"
    source.close()
    source.close()
    assert not source._thread.is_alive()


def test_udp_full_queue_drops_and_counts() -> None:
    source = UdpSource("udp://test", "127.0.0.1", 0, idle_interval=IDLE, queue_lines=10)
    udp_send(source.address, *[b"x\ny\nz"] * 5)
    wait_until(lambda: source.received + source.dropped == 15, 60, "15 lines counted")
    assert (source.received, source.dropped) == (9, 6)
    assert len(Reader(source).lines(9)) == 9
    source.close()


def test_udp_queue_is_bounded_in_bytes_too() -> None:
    from el_monitor.ingest.sources.network import LINE_OVERHEAD

    room = 3 * (1000 + LINE_OVERHEAD)  # three 1000-byte lines
    source = UdpSource("udp://bytes", "127.0.0.1", 0, idle_interval=IDLE, queue_bytes=room)
    udp_send(source.address, *[b"x" * 1000] * 5)
    wait_until(lambda: source.received + source.dropped == 5, 60, "5 lines counted")
    assert (source.received, source.dropped) == (3, 2)
    assert source._buffer.peak <= room
    assert Reader(source).lines(3) == [b"x" * 1000] * 3
    source.close()


def test_udp_stop_hands_over_what_was_queued() -> None:
    import threading

    source = UdpSource("udp://stop", "127.0.0.1", 0, idle_interval=IDLE)
    udp_send(source.address, *[b"%d" % i for i in range(50)])
    wait_until(lambda: source.received == 50, 60, "50 lines received")
    stop = threading.Event()
    stop.set()  # stopped before the pipeline took anything: all 50 still come out
    assert Reader(source, stop).rest() == [b"%d" % i for i in range(50)]
    source.close()
