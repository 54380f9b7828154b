"""The REST API of the private icinga2: service state read from /v1/objects/services, checks
forced with /v1/actions/reschedule-check.

The API listens on a free 127.0.0.1 port with TLS, under a self-signed certificate whose CN is
the node name, not 127.0.0.1; so requests are made with verify=False, per request (a Session's
verify=False loses to REQUESTS_CA_BUNDLE in the environment). The ApiUser has a random password.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import requests

STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
STATE_NAMES = {v: k for k, v in STATES.items()}


class IcingaError(RuntimeError):
    """The private icinga2 could not start or does not answer; the message has the log."""


def state_code(state: int | str) -> int:
    if isinstance(state, int):
        return state
    try:
        return STATES[state.upper()]
    except KeyError:
        raise ValueError(f"unknown service state {state!r}; one of {list(STATES)}") from None


class IcingaApi:
    """Calls to icinga2's REST API as one ApiUser; `port` is set once the daemon has one."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.port = 0
        self._session: requests.Session | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/v1"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST API call (path after /v1); the decoded JSON answer. Raises on HTTP errors."""
        if self._session is None:
            self._session = requests.Session()
            self._session.auth = (self.user, self.password)
            self._session.headers["Accept"] = "application/json"
        kwargs.setdefault("timeout", 10)
        # Per request: a Session's verify=False loses to REQUESTS_CA_BUNDLE from the environment.
        kwargs.setdefault("verify", False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # InsecureRequestWarning: our own self-signed cert
            response = self._session.request(method, f"{self.url}{path}", **kwargs)
        if response.status_code >= 400:
            raise IcingaError(
                f"{method} {path}: HTTP {response.status_code} {response.text[-1000:]}"
            )
        return response.json()

    def service(self, host: str, service: str) -> dict[str, Any]:
        """The attributes of one service (state, last_check_result, last_hard_state, ...)."""
        answer = self.call("GET", "/objects/services", params={"service": f"{host}!{service}"})
        return answer["results"][0]["attrs"]

    def services(self, host: str | None = None) -> dict[str, dict[str, Any]]:
        """Attributes of every service (of one host), by "host!service"."""
        params = {"filter": f"host.name=={json.dumps(host)}"} if host else {}
        answer = self.call("GET", "/objects/services", params=params)
        return {r["name"]: r["attrs"] for r in answer["results"]}

    def output(self, host: str, service: str) -> str | None:
        """last_check_result.output of a service (None before its first check)."""
        result = self.service(host, service).get("last_check_result")
        return result["output"] if result else None

    def reschedule(self, host: str, service: str) -> None:
        """Run the service's check now (reschedule-check with force)."""
        self.call(
            "POST",
            "/actions/reschedule-check",
            json={
                "type": "Service",
                "filter": f"host.name=={json.dumps(host)} && service.name=={json.dumps(service)}",
                "force": True,
            },
        )

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def short_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a check result worth showing in a failure message."""
    keep = ("output", "exit_status", "command", "execution_end", "performance_data")
    return {k: result.get(k) for k in keep if k in result}
