"""Identities: the keyed hash (HMAC-SHA256) an opt-out is kept as, and the secret it is keyed
with, from a file, the catalog or the environment."""

from __future__ import annotations

import logging

import pytest

from el_monitor.catalog.model import Catalog, SchemaPolicy
from el_monitor.errors import UserError
from el_monitor.optout.identity import identity_hash
from el_monitor.optout.secret import SECRET_ENV, read_secret_file, resolve_secret

from .support import SECRET, catalog, reference


def test_identity_hash_is_hmac_sha256_of_wiki_kind_value():
    assert identity_hash(SECRET, "enwiki", "user-id", 42) == reference(
        SECRET, "enwiki", "user-id", "42"
    )
    assert identity_hash(SECRET, "enwiki", "token", "abc") == reference(
        SECRET, "enwiki", "token", "abc"
    )
    with pytest.raises(ValueError):
        identity_hash(SECRET, "enwiki", "email", "x")


def test_secret_comes_from_file_then_catalog_then_environment(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"from-flag\n")
    second.write_bytes(b"from-catalog")
    for file in (first, second):
        file.chmod(0o600)
    cat = Catalog(path=None, defaults=SchemaPolicy("*"), secret_file=str(second))
    env = {SECRET_ENV: "from-env"}
    assert resolve_secret(first, cat, env) == b"from-flag"
    assert resolve_secret(None, cat, env) == b"from-catalog"
    assert resolve_secret(None, catalog(), env) == b"from-env"
    assert resolve_secret(None, None, env) == b"from-env"


def test_no_secret_is_an_error_naming_all_three_ways():
    with pytest.raises(UserError) as error:
        resolve_secret(None, catalog(), {})
    message = str(error.value)
    assert "--secret-file" in message and "secret_file" in message and SECRET_ENV in message


def test_secret_file_must_exist_and_not_be_empty_and_loses_one_newline(tmp_path):
    file = tmp_path / "secret"
    with pytest.raises(UserError, match="secret file"):
        read_secret_file(file)
    file.write_bytes(b"\n")
    file.chmod(0o600)
    with pytest.raises(UserError, match="empty"):
        read_secret_file(file)
    file.write_bytes(b"abc\n\n")
    assert read_secret_file(file) == b"abc\n"
    file.write_bytes(b"abc\r\n")
    assert read_secret_file(file) == b"abc"


def test_secret_file_readable_by_others_is_warned_about(tmp_path, caplog):
    file = tmp_path / "secret"
    file.write_bytes(b"abc")
    file.chmod(0o600)
    with caplog.at_level(logging.WARNING):
        read_secret_file(file)
    assert not caplog.records
    file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        read_secret_file(file)
    assert "readable by group or others" in caplog.text
