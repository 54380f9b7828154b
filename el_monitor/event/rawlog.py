"""The record form of a raw line in the ``all`` log: one JSON value per line, reversibly.

A raw line can hold anything a client sent, including line breaks (a beacon query with
``%0A``, a rejected POST body), so it is never written as it is: that would let a client forge
a standalone line, which a backfill from the log would then store.  Each record is instead

* a JSON string holding the line, when the line is UTF-8 (nearly always): ``"{\\"schema\\":…}"``;
* ``{"base64": "…"}`` holding the line's bytes, when it is not.

``line_of_record`` turns a record back into exactly the bytes that were logged, which is how
``el-monitor forward --replay-all-log`` backfills from the log.
"""

from __future__ import annotations

import base64
import binascii

import orjson

BASE64_KEY = "base64"


def raw_record(line: bytes) -> bytes:
    """The record of ``line``, without its newline."""
    try:
        return orjson.dumps(line.decode())
    except UnicodeDecodeError:
        return b'{"base64":"' + base64.b64encode(line) + b'"}'


def line_of_record(record: bytes) -> bytes | None:
    """The raw line a record holds; None when ``record`` is not one (a torn last line, a log
    written before records were JSON)."""
    try:
        value = orjson.loads(record)
    except orjson.JSONDecodeError:
        return None
    return line_of_value(value)


def line_of_value(value: object) -> bytes | None:
    """``line_of_record`` for a record already parsed."""
    if type(value) is str:
        return value.encode()
    if type(value) is dict and len(value) == 1 and type(value.get(BASE64_KEY)) is str:
        try:
            return base64.b64decode(value[BASE64_KEY], validate=True)
        except (binascii.Error, ValueError):
            return None
    return None
