"""The console app factory: pages, sign-in, CSRF, i18n, security headers."""

from __future__ import annotations

import logging
import time

import requests
from flask import Flask, g, jsonify, render_template, request

from services.console import i18n, links, security
from services.console.client import ApiFailure, ServiceUnavailable
from services.console.settings import Settings, load
from shared.http.proxies import trust_proxies
from shared.logs import new_id, reset_correlation_id, set_correlation_id

log = logging.getLogger(__name__)

# Every asset is served by the console itself: no CDN, no inline event handlers.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)

OPENAPI = {  # the console is pages, not an API: only its health check is an operation
    "openapi": "3.0.3",
    "info": {
        "title": "Vínculo console",
        "version": "0.1.0",
        "description": "Server-rendered pages for people; the APIs are the four services'.",
    },
    "paths": {
        "/healthz": {
            "get": {
                "summary": "Liveness: the process answers",
                "security": [],
                "responses": {"200": {"description": "up"}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: the four services' APIs answer",
                "security": [],
                "responses": {"200": {"description": "ready"}, "503": {"description": "a service is down"}},
            }
        },
    },
}


FORM_MAX_BYTES = 64 * 1024 * 1024  # every request body but an import's file


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load()
    app = Flask(__name__)
    app.config.update(
        VINCULO_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="vinculo_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=settings.session_max,
        MAX_CONTENT_LENGTH=FORM_MAX_BYTES,
    )
    trust_proxies(app, settings.trusted_proxies)  # the client's address behind nginx, a balancer
    from services.console import accounts
    from shared import store

    store.connect(settings.mongo_uri)  # users, sessions, tokens (services/console/accounts/)
    accounts.ensure_indexes()
    accounts.seal_plain_secrets(settings.secret_key)  # TOTP secrets stored before they were encrypted
    app.jinja_env.autoescape = True
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    links.init_app(app)  # the link_target filter: every href the templates write from data

    @app.before_request
    def start():
        g.settings = settings
        g.correlation_token = set_correlation_id(request.headers.get("X-Correlation-ID") or new_id())
        g.started = time.perf_counter()
        # Only the import upload may be large; any other body (read by the CSRF check before
        # sign-in is known) stays under FORM_MAX_BYTES. Set here, before security's hooks.
        if request.endpoint == "imports.upload":
            request.max_content_length = settings.upload_max_bytes

    i18n.init_app(app)
    security.init_app(app)
    from services.console.views import oidc as single_sign_on

    single_sign_on.init_app(app, settings)
    app.jinja_env.globals["oidc_enabled"] = bool(settings.oidc_issuer)

    from services.console.views import (
        account,
        admin,
        auth,
        builder,
        campaigns,
        customers,
        dashboard,
        imports,
        listening,
        oidc,
        segments,
        templates,
    )

    for blueprint in (
        auth.bp,
        dashboard.bp,
        customers.bp,
        segments.bp,
        imports.bp,
        campaigns.bp,
        listening.bp,
        templates.bp,
        builder.bp,
        account.bp,
        admin.bp,
        oidc.bp,
    ):
        app.register_blueprint(blueprint)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "service": "console"}

    @app.get("/readyz")
    def readyz():
        """Ready when each service's API answers its /healthz (the console's only dependencies)."""
        checks = {}
        for service, url in settings.service_urls().items():
            try:
                answer = requests.get(f"{url.rstrip('/')}/healthz", timeout=2)
                checks[service] = "ok" if answer.status_code == 200 else f"down: HTTP {answer.status_code}"
            except requests.RequestException as exc:
                checks[service] = f"down: {type(exc).__name__}"
        if all(value == "ok" for value in checks.values()):
            return jsonify({"status": "ready", "service": "console", "checks": checks}), 200
        down = ", ".join(sorted(name for name, value in checks.items() if value != "ok"))
        return jsonify(
            {
                "error": "unavailable",
                "message": f"Not ready: {down} unreachable",
                "details": {"service": "console", "checks": checks},
            }
        ), 503

    @app.get("/openapi.json")
    def openapi():
        return jsonify(OPENAPI)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.teardown_request
    def reset(_exc):
        token = g.pop("correlation_token", None)
        if token is not None:
            reset_correlation_id(token)

    @app.errorhandler(ServiceUnavailable)
    def unavailable(exc):
        return render_template("error.html", status=503, failure=exc), 503

    @app.errorhandler(ApiFailure)
    def failure(exc):
        if exc.status == 401:
            security.sign_out()
        status = exc.status if exc.status in (401, 403, 404, 409) else 502
        return render_template("error.html", status=status, failure=exc), status

    @app.errorhandler(500)
    def internal(_exc):
        return render_template("error.html", status=500, failure=None), 500

    for status in (400, 403, 404, 405, 413):
        app.register_error_handler(
            status,
            lambda exc, status=status: (
                render_template(
                    "error.html", status=status, failure=None, csrf=getattr(exc, "description", "") == "csrf"
                ),
                status,
            ),
        )
    return app
