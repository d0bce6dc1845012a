"""Per-request metrics, the access log and /metrics for every API.

One JSON line per request (logger ``vinculo.access``) with method, path,
endpoint, status, duration, the caller's role and, for a person (personal
token or the console acting for them), their user id and name: the audit
line of every write; through the log formatter, the correlation id. Health checks and scrapes (/healthz, /readyz, /metrics) are logged at
DEBUG so the probes of an orchestrator do not drown the log. A customer's signed link
(a path's ``<token>``) is logged as ``<token>``: whoever reads the log must not hold it.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from shared import metrics
from shared.http import auth
from shared.logs import event

access_log = logging.getLogger("vinculo.access")
PROBES = {"/healthz", "/readyz", "/metrics"}
SECRET_ARGS = ("token",)  # path parts that are credentials (the mailer's signed links)


def logged_path() -> str:
    """The request's path with every credential part replaced by its name."""
    path = request.path
    for name in SECRET_ARGS:
        value = (request.view_args or {}).get(name)
        if isinstance(value, str) and value:
            path = path.replace(value, f"<{name}>")
    return path


def init_app(app: Flask, service: str) -> None:
    @app.after_request
    def observe(response):
        started = g.get("started")
        duration = time.perf_counter() - started if started is not None else 0.0
        endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        metrics.HTTP_REQUESTS.labels(service, endpoint, request.method, str(response.status_code)).inc()
        metrics.HTTP_LATENCY.labels(service, endpoint, request.method).observe(duration)
        level = logging.DEBUG if request.path in PROBES else logging.INFO
        path = logged_path()
        event(
            access_log,
            f"{request.method} {path} {response.status_code}",
            level,
            method=request.method,
            path=path,
            endpoint=endpoint,
            status=response.status_code,
            duration_ms=round(duration * 1000, 2),
            role=g.get("role"),
            user_id=g.get("user_id"),
            user_name=g.get("user_name"),
        )
        return response

    @app.get("/metrics")
    @app.doc(hide=True)  # Prometheus text, not JSON: kept out of the OpenAPI document
    @auth.public
    def prometheus_metrics():
        """Prometheus metrics of this api (every gunicorn process summed)."""
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)
