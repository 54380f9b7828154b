"""``HOST[:PORT]`` as people write it on a command line (``[v6]:PORT`` for IPv6)."""

from __future__ import annotations

import re

_HOST = re.compile(r"[A-Za-z0-9_.-]+")
_BRACKETED = re.compile(r"\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\](?::(.*))?")


def parse_host_port(text: str, default_port: int | None) -> tuple[str, int | None]:
    """``(host, port)``, the port ``default_port`` when absent; ValueError says what is wrong."""
    spec = text.strip()
    if "://" in spec:
        raise ValueError("give a host and port, not a URL")
    bracketed = _BRACKETED.fullmatch(spec)
    if bracketed:
        host, port_text = bracketed.group(1), bracketed.group(2)
    elif spec.count(":") > 1:
        raise ValueError("write an IPv6 address in brackets")
    else:
        host, colon, port_text = spec.partition(":")
        if not colon:
            port_text = None
        if not _HOST.fullmatch(host):
            raise ValueError("missing or malformed host name")
    if port_text is None:
        return host, default_port
    if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
        raise ValueError(f"port {port_text!r} is not a number between 1 and 65535")
    return host, int(port_text)
