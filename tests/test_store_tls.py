"""MySQL store sessions and TLS: used when the server offers it, as PyMySQL's default
("preferred") does, but without loading the system's CA store for every connection, which
that mode never consults (20 ms a connection).  A real private server with a certificate of
its own, and the shared one, which offers no TLS."""

from __future__ import annotations

import ssl
import subprocess

import pytest

from el_monitor.store import open_store


def test_a_server_that_offers_tls_gets_an_encrypted_session(mariadb_servers, tmp_path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = mariadb_servers(1, f"--ssl-cert={cert}", f"--ssl-key={key}")
    store = open_store(server.url)
    try:
        ((_, cipher),) = store.query("SHOW STATUS LIKE 'Ssl_cipher'")
        assert cipher, "the session is not encrypted"
        with store.exclusive("test"):  # the lock's session of its own too
            pass
    finally:
        store.close()


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
