"""Shared by the opt-out tests: the test secret and identities, the HMAC every hash is checked
against, a catalog naming user fields, a capsule, and `el-monitor optout` run in process."""

from __future__ import annotations

import argparse
import hashlib
import hmac
from types import MappingProxyType

from el_monitor.catalog.model import Catalog, SchemaPolicy
from el_monitor.cli.optout import register

SECRET = b"site-secret-for-tests"
USER = "987654321"  # must never show up in a file, a table or any output
TOKEN = "sekrit-token-5f3a"


def reference(secret: bytes, wiki: str, kind: str, value: str) -> str:
    return hmac.new(secret, f"{wiki}\x1f{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()


def catalog(**user_fields: tuple[str, ...]) -> Catalog:
    schemas = {name: SchemaPolicy(name, user_fields=f) for name, f in user_fields.items()}
    return Catalog(path=None, defaults=SchemaPolicy("*"), schemas=MappingProxyType(schemas))


def capsule(schema: str, event: dict, wiki: str = "enwiki") -> dict:
    return {"schema": schema, "revision": "1", "wiki": wiki, "event": event}


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="el-monitor")
    parser.add_argument("--config")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.run(args)
