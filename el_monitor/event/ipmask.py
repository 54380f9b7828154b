"""IP addresses in text: what raw lines, logs and alert texts must never keep.

The patterns are shared by the forwarder (raw lines whose format carries a client IP: the
``%h`` field, and whole lines that do not match their format) and the alerts' redaction, so
both mask exactly the same shapes.  The IPv6 grammar is RFC 3986's, written out: every
textual form (zero groups written out or compressed, IPv4-embedded such as ``::ffff:10.1.2.3``,
upper-case hex, a zone id, inside brackets).

Trade-off, privacy first: masking matches by shape, so a version number written as four
dotted numbers (``Chrome/131.0.0.0``), an out-of-range "address" (``999.1.2.3``) or a word
made of hex digits around ``::`` is masked as well.  What cannot be an address is left:
times (``13:55:10``), numbers of two or three dotted parts (``1.7.0``), MAC addresses.  At
the end of a text, where a line was cut at the size limit, any trailing token made only of
address characters (``10.200.0.``, ``2001:48``, even ``10``) is masked too: it may be the
beginning of a client's address.
"""

from __future__ import annotations

import re

_H16 = "[0-9A-Fa-f]{1,4}"
_ZONE = "(?:%[0-9A-Za-z._~-]+)?"  # fe80::1%eth0; %25eth0 when URL-encoded
_STRICT_OCTET = "(?:1[0-9][0-9]|2[0-4][0-9]|25[0-5]|[1-9]?[0-9])"  # commonest first
_ANY_OCTET = "[0-9]{1,3}"


def _ipv4(octet: str) -> str:
    return rf"{octet}(?:\.{octet}){{3}}"


def _ipv6(octet: str) -> str:
    """RFC 3986's IPv6address: the full form, then the compressed ones by groups before ::."""
    ls32 = rf"(?:{_H16}:{_H16}|{_ipv4(octet)})"
    forms = [rf"(?:{_H16}:){{6}}{ls32}", rf"::(?:{_H16}:){{5}}{ls32}"]
    # After "::", by how many groups may come before it (0 to 6): fewer groups, longer tail.
    tails = [rf"(?:{_H16}:){{{4 - before}}}{ls32}" for before in range(5)] + [_H16, ""]
    for before, tail in enumerate(tails):
        head = rf"(?:(?:{_H16}:){{0,{before}}}{_H16})?" if before else f"(?:{_H16})?"
        forms.append(f"{head}::{tail}")
    return "(?:" + "|".join(forms) + ")"


def _field_ipv6() -> str:
    """IPv6 as a field holds it, written for speed (it is matched on every raw line): eight
    groups, six and an IPv4 address, or groups around one '::' (not counted: a token of
    more than eight groups is no more a user agent than an address is)."""
    group = "[0-9A-Fa-f]{1,4}+"
    ipv4 = _ipv4(_STRICT_OCTET)
    compressed = (  # first: what varnish writes (inet_ntop), so the common case tries once
        rf"(?:{group}(?::{group}){{0,6}})?::(?:{group}(?::{group}){{0,6}}|(?:{group}:){{0,5}}{ipv4})?"
    )
    full = rf"{group}(?::{group}){{7}}|{group}(?::{group}){{5}}:{ipv4}"
    return f"(?:{compressed}|{full}){_ZONE}"


# One address exactly as a log field holds it (varnish's %h), bracketed or not: a format's
# client-IP field matches only this (or '-'), so a line whose fields shifted does not parse.
ADDRESS = rf"(?:{_ipv4(_STRICT_OCTET)}|{_field_ipv6()}|\[{_field_ipv6()}\])"
# Shapes to mask anywhere in a text; octets are not range-checked (privacy first).
IPV4 = rf"(?<![0-9])(?<![0-9]\.){_ipv4(_ANY_OCTET)}(?![0-9])(?!\.[0-9])"
IPV6 = rf"(?<![0-9A-Za-z:]){_ipv6(_ANY_OCTET)}{_ZONE}(?![0-9A-Za-z:])(?!\.[0-9])"
# The last token of a text, made only of address characters: what a cut leaves of one.
CUT_TAIL = r"(?<![0-9A-Za-z:.%])[0-9A-Fa-f:.]+(?:%[0-9A-Za-z._~-]*)?\Z"
_ADDRESSES = re.compile(f"{CUT_TAIL}|{IPV4}|{IPV6}".encode())  # a cut tail whole, first


def mask_ips(data: bytes, mask: bytes = b"-") -> bytes:
    """``data`` with anything shaped like an IPv4 or IPv6 address, or like the start of one
    where ``data`` ends, replaced by ``mask``.  Regex-heavy (tens of µs a line): for lines
    that could not be parsed, not the hot path."""
    return _ADDRESSES.sub(mask, data)
