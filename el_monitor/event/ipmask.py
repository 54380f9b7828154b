"""IP addresses in text: what raw lines, logs and alert texts must never keep.

The patterns are shared by the forwarder (raw lines whose format carries a client IP) and the
alerts' redaction, so both mask exactly the same shapes.
"""

from __future__ import annotations

import re

IPV4 = r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
# Any run of hex groups with at least two colons (covers ::1, fe80::1%eth0, full forms);
# a time of day such as 13:55:10 is excluded by requiring a hex letter or a double colon.
IPV6 = (
    r"(?<![\w:])(?=[0-9A-Fa-f:]*(?:::|[A-Fa-f]))"
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?:%[\w.]+)?(?![\w:])"
)
_ADDRESSES = re.compile(f"{IPV4}|{IPV6}".encode())


def mask_ips(data: bytes, mask: bytes = b"-") -> bytes:
    """``data`` with anything shaped like an IPv4 or IPv6 address replaced by ``mask``.
    Regex-heavy (tens of µs a line): for lines that could not be parsed, not the hot path."""
    return _ADDRESSES.sub(mask, data)
