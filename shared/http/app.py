"""The base every service API starts from: APIFlask (request validation and
OpenAPI at /openapi.json), the JSON error shape, API-key auth, correlation
ids, and /healthz and /readyz."""

from __future__ import annotations

import json
import logging
import re
import time
import warnings

from apiflask import APIFlask
from flask import g, jsonify, request
from kombu import Connection

from shared import store
from shared.http import auth, errors, inputs, observe, proxies
from shared.logs import new_id, reset_correlation_id, set_correlation_id

log = logging.getLogger(__name__)

VERSION = "0.1.0"


def service_api(import_name: str, parts, *, title: str, description: str, blueprints) -> APIFlask:
    """A service's API from its parts (``bootstrap.build``): the app, the store connected and its
    indexes declared, the parts installed for the views (``shared.bootstrap.current()``), the
    blueprints added. Every service's ``app.create_app`` is this call."""
    app = create_api_app(
        import_name, service=parts.producer, title=title, settings=parts.settings, description=description
    )
    parts.prepare_store()
    parts.install(app)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app


# apispec's word for that second registration; _without_numbered_copies mends what it warns of.
warnings.filterwarnings("ignore", message=r".* has already been added to the spec\.", category=UserWarning)


def _without_numbered_copies(spec: dict) -> dict:
    """One component per schema. APIFlask registers an output schema a second time, as
    ``DeliveryOut1``, when a page's items (``page_of``) named it first; a client generated from
    the document would have two types for one thing. A numbered component equal to the one it
    copies is dropped and every reference points at the original."""
    schemas = spec.get("components", {}).get("schemas", {})
    copies = {
        name: match.group(1)
        for name in schemas
        if (match := re.fullmatch(r"(.+?)(\d+)", name)) and schemas.get(match.group(1)) == schemas[name]
    }
    if not copies:
        return spec
    text = json.dumps(spec)
    for copy, original in copies.items():
        text = text.replace(f'"#/components/schemas/{copy}"', f'"#/components/schemas/{original}"')
    spec = json.loads(text)
    for copy in copies:
        del spec["components"]["schemas"][copy]
    return spec


def create_api_app(
    import_name: str, *, service: str, title: str, settings, description: str = ""
) -> APIFlask:
    """A configured APIFlask app; the service adds its blueprints and returns it."""
    app = APIFlask(import_name, title=title, version=VERSION, docs_path=None, spec_path="/openapi.json")
    app.config["VINCULO_SERVICE"] = service
    app.config["VINCULO_SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["JSON_AS_ASCII"] = False
    app.config["SPEC_FORMAT"] = "json"
    app.config["INFO"] = {"description": description or title}
    app.security_schemes = {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    app.json.ensure_ascii = False
    proxies.trust_proxies(app, settings.trusted_proxies)  # the client's address behind nginx, a balancer

    app.config["HTTP_ERROR_SCHEMA"] = errors.ERROR_SCHEMA
    app.config["VALIDATION_ERROR_SCHEMA"] = errors.ERROR_SCHEMA
    app.config["VALIDATION_ERROR_STATUS_CODE"] = 422

    @app.spec_processor
    def add_security(spec):
        """Every operation needs the API key but the views marked public; every operation
        documents the errors the shared layers answer (auth, roles, input parsing)."""
        spec["security"] = [{"ApiKey": []}]
        views = {}
        for rule in app.url_map.iter_rules():
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            for method in rule.methods or ():
                views[(path, method.lower())] = app.view_functions.get(rule.endpoint)
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                if not isinstance(operation, dict):
                    continue
                view = views.get((path, method))
                if getattr(view, "vinculo_public", False):
                    operation["security"] = []
                for status, description in inputs.answered(view, method, path):
                    operation.setdefault("responses", {}).setdefault(
                        str(status),
                        {
                            "description": description,
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}
                            },
                        },
                    )
        return _without_numbered_copies(spec)

    @app.before_request
    def correlation():
        g.correlation_token = set_correlation_id(request.headers.get("X-Correlation-ID") or new_id())
        g.started = time.perf_counter()

    errors.register(app)
    auth.init_app(app, settings.api_keys)
    inputs.init_app(app, settings.max_body_bytes)  # 413, 415, 400, 422 before any view
    observe.init_app(app, service)  # /metrics, request metrics, the access log

    @app.after_request
    def add_headers(response):
        from shared.logs import get_correlation_id

        response.headers["X-Correlation-ID"] = get_correlation_id() or ""
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.teardown_request
    def reset(_exc):
        token = g.pop("correlation_token", None)
        if token is not None:
            reset_correlation_id(token)

    @app.get("/healthz")
    @app.doc(summary="Liveness: the process answers", tags=["health"])
    @auth.public
    def healthz():
        """The process is up."""
        return {"status": "ok", "service": service}

    @app.get("/whoami")
    @app.doc(summary="The role of the presented API key", tags=["health"])
    def whoami():
        """The caller's role (the console signs people in with it)."""
        return {"role": g.role}

    @app.get("/readyz")
    @app.doc(
        summary="Readiness: store and broker reachable",
        tags=["health"],
        responses={200: "ready", 503: "a dependency is down (the error shape; details.checks)"},
    )
    @auth.public
    def readyz():
        """The store and the broker both answer."""
        checks = {}
        try:
            store.ping()
            checks["store"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["store"] = f"down: {type(exc).__name__}"
        try:
            with Connection(settings.amqp_url, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1)
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"down: {type(exc).__name__}"
        if all(value == "ok" for value in checks.values()):
            return jsonify({"status": "ready", "service": service, "checks": checks}), 200
        down = ", ".join(sorted(name for name, value in checks.items() if value != "ok"))
        return jsonify(
            errors.error_body(
                503, f"Not ready: {down} unreachable", "unavailable", {"service": service, "checks": checks}
            )
        ), 503

    return app
