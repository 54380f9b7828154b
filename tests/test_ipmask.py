"""IP masking over many textual forms: every IPv4/IPv6 spelling and every prefix of one that a
cut can leave at the end of a line is masked; times, versions and short numbers mid-text stay.

Property-style: thousands of random addresses, each written in every form EventLogging's
inputs could carry, in several surroundings."""

from __future__ import annotations

import ipaddress
import random
import re

import pytest

from el_monitor.event.formats import make_line_redactor, make_parser
from el_monitor.event.ipmask import ADDRESS, mask_ips
from el_monitor.mail.redact import REDACTED, scrub

VARNISH = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"
SURROUNDINGS = [(b"ip ", b" seen"), (b"(", b")"), (b'"', b'",'), (b"from=", b"&x=y"), (b"", b"")]


def ipv4_forms(rnd: random.Random) -> list[str]:
    address = ipaddress.IPv4Address(rnd.getrandbits(32))
    return [str(address)]


def ipv6_forms(rnd: random.Random) -> list[str]:
    """One random address as logs may write it: compressed, full, zero groups written out,
    upper-case, IPv4-mapped and IPv4-embedded, with a zone id, bracketed."""
    bits = rnd.getrandbits(128)
    if rnd.random() < 0.5:  # runs of zero groups, so that "::" has something to compress
        start, length = rnd.randrange(8), rnd.randint(1, 7)
        for group in range(start, min(8, start + length)):
            bits &= ~(0xFFFF << (16 * (7 - group)))
    address = ipaddress.IPv6Address(bits)
    groups = [int(g, 16) for g in address.exploded.split(":")]
    v4 = ipaddress.IPv4Address(rnd.getrandbits(32))
    return [
        address.compressed,
        address.exploded,
        ":".join(f"{g:x}" for g in groups),  # 2001:4860:4860:0:0:0:0:8888
        address.compressed.upper(),
        f"::ffff:{v4}",
        f"0:0:0:0:0:ffff:{v4}",
        f"::FFFF:{v4}",
        f"64:ff9b::{v4}",
        f"fe80::{groups[7]:x}%eth0",
        f"fe80::{groups[7]:x}%25en0",
        f"[{address.compressed}]",
    ]


def forms(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        out += ipv4_forms(rnd) + ipv6_forms(rnd)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_every_textual_form_is_masked_in_any_surrounding(seed):
    for text in forms(seed, 300):
        for before, after in SURROUNDINGS:
            masked = mask_ips(before + text.encode() + after)
            if text.startswith("["):
                assert masked == before + b"[-]" + after, text
            else:
                assert masked == before + b"-" + after, text


@pytest.mark.parametrize("seed", range(4))
def test_every_prefix_left_by_a_cut_at_the_end_is_masked(seed):
    for text in forms(seed, 40):
        bracket = text.startswith("[")
        for cut in range(1, len(text) + 1):
            head = b"?%7B%7D; cp1 7 2026-11-28T05:00:00 "
            expected = head + b"-"
            if bracket:  # the brackets stay, what is between them goes
                expected = (
                    head + b"[" + (b"-" if cut > 1 else b"") + (b"]" if cut == len(text) else b"")
                )
            assert mask_ips(head + text[:cut].encode()) == expected, (text, cut)


def test_the_strict_field_pattern_takes_every_form_and_nothing_else():
    field = re.compile(ADDRESS)
    for text in forms(9, 300):
        assert field.fullmatch(text), text
    for text in ["cafe", "10.1.2", "10.1.2.256", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", ":::1"]:
        assert not field.fullmatch(text), text
    for text in ["1::2::3", "12345::1", "13:55:10", "::ffff:10.1.2"]:
        assert not field.fullmatch(text), text


@pytest.mark.parametrize(
    "text",
    [
        b"at 13:55:10 UTC",  # a time of day
        b"revision 1.7.0 of it",  # versions of up to three numbers
        b"C++ std::vector and Foo::bar here",
        b"version 1.2.3.4.5 done",  # five numbers: no address
        b"ratio 0.5 and 10 items",
        b"mac 00:1a:2b:3c:4d:5e ok",
    ],
)
def test_what_cannot_be_an_address_stays_mid_text(text):
    assert mask_ips(text) == text


def test_the_line_redactor_masks_a_line_cut_inside_the_client_ip():
    """EventLogging's 1,014-byte cut: the source keeps max+1 bytes of an over-long line."""
    parse, redact = make_parser(VARNISH, "h", max_event_bytes=1013), make_line_redactor(VARNISH)
    assert redact is not None
    head = b"?%7B%22a%22%3A%22" + b"x" * 960 + b"%22%7D; cp1 7 2026-11-28T05:00:00 "
    for address in (b"10.200.0.17", b"2001:4860:4860:0:0:0:0:8888"):
        for cut in range(1, len(address)):
            line = head + address[:cut]
            with pytest.raises(ValueError):
                parse(line, None)
            assert redact(line) == head + b"-", line


def test_mail_scrub_masks_the_same_shapes():
    for text in forms(3, 50):
        out = scrub(f"from {text} today")
        assert text.strip("[]") not in out and REDACTED in out, text
