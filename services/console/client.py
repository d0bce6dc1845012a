"""Calls to the four services' APIs on behalf of the signed-in user.

One ``requests.Session`` per service and process (connection reuse), a
timeout on every call, the user's API key and the request's correlation id
on every request. The services' one error shape becomes ``ApiFailure`` with
the field errors, so a form can show them next to its fields.
"""

from __future__ import annotations

import threading

import requests
from flask import g

from services.console import security
from shared.logs import get_correlation_id

SERVICES = ("segments", "campaigns", "mailer", "listener")
_local = threading.local()


class ApiFailure(Exception):
    """A service answered an error (4xx/5xx) in its JSON error shape."""

    def __init__(self, service: str, status: int, error: str, message: str, details: dict | None = None):
        super().__init__(f"{service}: {status} {error}: {message}")
        self.service, self.status, self.error, self.message = service, status, error, message
        self.details = details or {}

    @property
    def fields(self) -> dict[str, list[str]]:
        """Field errors by field name, e.g. {"schedule.cron": ["..."]} (empty when none)."""
        fields = self.details.get("fields") or {}
        return {name: list(messages) for name, messages in fields.items()}


class ServiceUnavailable(ApiFailure):
    """The service did not answer (down, refused, timed out)."""

    def __init__(self, service: str, reason: str):
        super().__init__(service, 503, "unavailable", f"the {service} service did not answer ({reason})")


def _session(service: str) -> requests.Session:
    sessions = getattr(_local, "sessions", None)
    if sessions is None:
        sessions = _local.sessions = {}
    if service not in sessions:
        sessions[service] = requests.Session()
    return sessions[service]


class ServiceClient:
    """The API of one service, called with one API key."""

    def __init__(self, service: str, base_url: str, api_key: str | None, timeout: float = 10.0):
        self.service, self.base_url, self.api_key, self.timeout = (
            service,
            base_url.rstrip("/"),
            api_key,
            timeout,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params=None,
        json=None,
        files=None,
        data=None,
        raw: bool = False,
        stream: bool = False,
    ):
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        correlation = get_correlation_id()
        if correlation:
            headers["X-Correlation-ID"] = correlation
        if params:
            params = {key: value for key, value in params.items() if value not in (None, "")}
        try:
            response = _session(self.service).request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=json,
                files=files,
                data=data,
                headers=headers,
                timeout=self.timeout,
                stream=stream,
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(self.service, type(exc).__name__) from None
        if response.status_code >= 400:
            try:
                body = response.json()
                error, message, details = body["error"], body["message"], body.get("details") or {}
            except (ValueError, KeyError, TypeError):
                error, message, details = "error", response.text[:200] or response.reason, {}
            raise ApiFailure(self.service, response.status_code, error, message, details)
        if raw:
            return response
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, **params):
        return self.request("GET", path, params=params)

    def post(self, path: str, json=None, **kwargs):
        return self.request("POST", path, json=json if json is not None else {}, **kwargs)

    def download(self, path: str):
        """A streamed answer (a CSV export), for the console to pass on: the key stays here."""
        return self.request("GET", path, raw=True, stream=True)

    def patch(self, path: str, json):
        return self.request("PATCH", path, json=json)

    def delete(self, path: str):
        return self.request("DELETE", path)


class Clients:
    """``api.campaigns.get("/campaigns")``: one client per service for the current user."""

    def __init__(self, urls: dict[str, str], api_key: str | None, timeout: float):
        self._clients = {name: ServiceClient(name, url, api_key, timeout) for name, url in urls.items()}

    def __getattr__(self, name: str) -> ServiceClient:
        try:
            return self._clients[name]
        except KeyError:
            raise AttributeError(name) from None


def api():
    """The services' clients, with the signed-in user's key (created once per request)."""
    if "api" not in g:
        settings = g.settings
        g.api = Clients(settings.service_urls(), security.api_credential(), settings.api_timeout)
    return g.api
