"""The PyMySQL connection every MySQL store session is made of.

Asked for no TLS, PyMySQL (1.2) still prepares it for every connection, to use it if the server
offers TLS, verifying nothing: yet it builds that context by loading the system's whole CA
store, 20 ms a connection (a check plugin's start-up, a test's fixture) for certificates this
mode never consults.  ``Session`` hands it the same context without them: the same TLS when
the server offers it, none when it does not, and no load.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from pymysql.connections import Connection
from pymysql.cursors import Cursor

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
