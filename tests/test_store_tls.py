"""MySQL sessions and TLS: ``?ssl-mode=`` (disabled, preferred by default, required,
verify-ca, verify-identity) and ``&ssl-ca=``, for the store's sessions and for MariaDB's client
tools; "preferred" without loading the system's CA store for every connection, which that mode
never consults (20 ms a connection).  A real private server with a certificate of its own, and
the shared one, which offers no TLS."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from el_monitor.errors import UserError
from el_monitor.store import StoreUnavailable, open_store
from el_monitor.store.dumps import CLIENT_TOOL, client_defaults, with_database


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(mariadb_servers, tmp_path: Path) -> tuple[str, Path]:
    """(URL, CA file) of a private server that offers TLS with a certificate of its own."""
    cert, key = _certificate(tmp_path, "server")
    server = mariadb_servers(1, f"--ssl-cert={cert}", f"--ssl-key={key}")
    return server.url, cert


def _cipher(url: str) -> str:
    store = open_store(url)
    try:
        ((_, cipher),) = store.query("SHOW STATUS LIKE 'Ssl_cipher'")
        with store.exclusive("test"):  # the lock's session of its own: the same options
            pass
        return str(cipher)
    finally:
        store.close()


def test_each_mode_against_a_server_that_offers_tls(tls_server, tmp_path: Path) -> None:
    url, ca = tls_server
    assert _cipher(url), "preferred (the default) did not use the TLS offered"
    assert _cipher(f"{url}?ssl-mode=required")
    assert _cipher(f"{url}?ssl-mode=verify-ca&ssl-ca={ca}")
    assert _cipher(f"{url}?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}")
    assert _cipher(f"{url}?ssl-mode=disabled") == ""
    other, _ = _certificate(tmp_path, "other")
    with pytest.raises(StoreUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        open_store(f"{url}?ssl-mode=verify-ca&ssl-ca={other}")


def test_the_client_tools_get_the_same_tls(tls_server, tmp_path: Path) -> None:
    url, ca = tls_server
    for query, encrypted in (
        (f"?ssl-mode=verify-identity&ssl-ca={ca}", True),
        ("", True),  # preferred: theirs too
        ("?ssl-mode=disabled", False),
    ):
        defaults = tmp_path / "client.cnf"
        defaults.write_text(client_defaults(f"{url}{query}").defaults)
        shown = subprocess.run(
            [CLIENT_TOOL, f"--defaults-extra-file={defaults}", "--batch", "--skip-column-names",
             "-e", "SHOW STATUS LIKE 'Ssl_cipher'"],
            check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        assert (len(shown) == 2) is encrypted, shown
    assert with_database(f"{url}?ssl-mode=required", "scratch").endswith(
        "/scratch?ssl-mode=required"
    )


@pytest.mark.mysql
def test_required_tls_from_a_server_without_it_is_unavailable(mysql_url: str) -> None:
    with pytest.raises(StoreUnavailable):
        open_store(f"{mysql_url}?ssl-mode=required")
    with pytest.raises(UserError, match="use one of disabled, preferred"):
        open_store(f"{mysql_url}?ssl-mode=sometimes")


@pytest.mark.mysql
def test_a_session_loads_no_ca_store(mysql_url: str, monkeypatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the system's CA store was loaded")

    with monkeypatch.context() as patched:  # (the fixture's own connections may load it)
        patched.setattr(ssl.SSLContext, "load_default_certs", refuse)
        store = open_store(mysql_url)
        try:
            assert store.query("SELECT 1") == [(1,)]
            with store.exclusive("test"):
                pass
        finally:
            store.close()
