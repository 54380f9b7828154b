"""The PyMySQL connection every MySQL store session is made of, and the TLS a ``mysql://``
URL asks for (``?ssl-mode=`` as MySQL's clients spell it, ``&ssl-ca=`` a CA file), for
PyMySQL and for MariaDB's client tools (dumps, restores) alike.

Asked for no TLS, PyMySQL (1.2) still prepares it for every connection, to use it if the server
offers TLS, verifying nothing: yet it builds that context by loading the system's whole CA
store, 20 ms a connection (a check plugin's start-up, a test's fixture) for certificates this
mode never consults.  ``Session`` hands it the same context without them: the same TLS when
the server offers it, none when it does not, and no load.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from pymysql.connections import Connection
from pymysql.cursors import Cursor

from el_monitor.errors import UserError

if TYPE_CHECKING:
    _Connection = Connection[Cursor]  # generic in the stubs only
else:
    _Connection = Connection


class Session(_Connection):
    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if isinstance(sslp, dict) and not sslp:  # no TLS option given: PyMySQL's "preferred"
            return unverified_tls()
        return super()._create_ssl_ctx(sslp)  # type: ignore[misc]


def unverified_tls() -> ssl.SSLContext:
    """What PyMySQL's own context for "preferred" amounts to (no hostname check, no
    certificate verification, TLS 1.2 at least), without a CA store."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# TLS to use: never; when the server offers it (the default); always, verifying nothing;
# always, the server's certificate signed by the CA (``ssl-ca``, else the system's); and its
# name the URL's host too.
DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY = (
    "disabled", "preferred", "required", "verify-ca", "verify-identity",
)  # fmt: skip
TLS_MODES = (DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)


class Tls(NamedTuple):
    mode: str  # one of TLS_MODES
    ca: str | None  # a CA file (PEM) for the verifying modes; None: the system's


def tls_of(url: str) -> Tls:
    """The TLS a ``mysql://`` URL asks for (``?ssl-mode=...&ssl-ca=FILE``); UserError for a
    mode that is none of ``TLS_MODES``."""
    query = parse_qs(urlsplit(url).query)
    mode = query.get("ssl-mode", [PREFERRED])[-1].lower().replace("_", "-")
    if mode not in TLS_MODES:
        raise UserError(f"ssl-mode={mode} in the database URL: use one of {', '.join(TLS_MODES)}")
    ca = query.get("ssl-ca", [None])[-1]
    return Tls(mode, ca or None)


def session_tls(tls: Tls) -> dict[str, Any]:
    """``Session`` (PyMySQL) keywords for ``tls``."""
    if tls.mode == DISABLED:
        return {"ssl_disabled": True}
    if tls.mode == PREFERRED:
        return {}
    if tls.mode == REQUIRED:
        return {"ssl": unverified_tls()}  # a context given is a context required
    return {
        "ssl_ca": tls.ca,
        "ssl_verify_cert": True,
        "ssl_verify_identity": tls.mode == VERIFY_IDENTITY,
    }


def client_tls(tls: Tls) -> list[str]:
    """``[client]`` option lines of MariaDB's tools for ``tls``.  Without any they use TLS when
    the server offers it ("preferred"); verifying, they check the server's name with its
    certificate (in both verifying modes)."""
    if tls.mode == DISABLED:
        return ["skip-ssl"]
    if tls.mode == PREFERRED:
        return []
    if tls.mode == REQUIRED:
        return ["ssl"]
    return ["ssl", *([f"ssl-ca={tls.ca}"] if tls.ca else []), "ssl-verify-server-cert"]
