"""Every route of every API's OpenAPI document, called by every role: the role matrix the
views declare (``@roles``, shared/http/auth.py) is the one the server answers.

For each operation and role: a role the view does not name (admin aside) never gets a 2xx
(403, or the 4xx of a body refused before the role is asked); a role it names is never
refused for its role; no key is 401 except on the pages marked ``@public``. The analyst,
read-only, is named on no write except the three that only compute (a rule's count, a
template's preview, a segment's reachability), and those change nothing. Every route the
server answers is in its document, so none escapes the walk."""

from __future__ import annotations

import re

import pytest
from bson import ObjectId

from shared.http.auth import ROLES
from tests.security.conftest import service_app
from tests.support import ADMIN_KEY, ANALYST_KEY, CM_KEY, MARKETER_KEY

KEYS = {"admin": ADMIN_KEY, "marketer": MARKETER_KEY, "community_manager": CM_KEY, "analyst": ANALYST_KEY}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
ANALYST_WRITES = {
    ("segments", "POST", "/segments/preview"),
    ("mailer", "POST", "/templates/{template_id}/preview"),
    ("mailer", "POST", "/reachability"),
}
UNDOCUMENTED = {"static", "openapi.spec"}


def operations(app):
    """(method, documented path, concrete path, view) of every operation of the document."""
    spec = app.test_client().get("/openapi.json").json
    adapter = app.url_map.bind("localhost")
    for path, item in spec["paths"].items():
        for method in item:
            if method.upper() not in {"GET", *WRITES}:
                continue
            concrete = re.sub(
                r"\{([^}]+)\}", lambda m: "1" if m.group(1) == "number" else str(ObjectId()), path
            )
            endpoint, _ = adapter.match(concrete, method=method.upper())
            yield method.upper(), path, concrete, app.view_functions[endpoint]


@pytest.mark.parametrize("service", ["segments", "campaigns", "mailer", "listener"])
def test_every_route_answers_each_role_as_its_view_declares(service_env, service):
    app = service_app(service, service_env)
    client = app.test_client()
    walked, wrong = set(), []
    for method, path, concrete, view in operations(app):
        walked.add(view)
        public = getattr(view, "vinculo_public", False)
        declared = getattr(view, "vinculo_roles", None)
        if not public and path not in ("/whoami",):
            assert declared is not None, f"{method} {path} needs a key but names no roles"
        body = {"json": {}} if method in WRITES else {}
        stranger = {
            "REMOTE_ADDR": f"198.51.100.{len(walked) % 250}"
        }  # a keyless call is a failure: throttled
        anonymous = client.open(concrete, method=method, environ_base=stranger, **body).status_code
        if not public and anonymous != 401:
            wrong.append(f"{method} {path} without a key: {anonymous}")
        for role in ROLES:
            status = client.open(
                concrete, method=method, headers={"X-API-Key": KEYS[role]}, **body
            ).status_code
            allowed = public or declared is None or role == "admin" or role in declared
            if allowed and (status == 401 or (status == 403 and not public)):  # a public form's 403: CSRF
                wrong.append(f"{method} {path} as {role}: {status}, but the view names the role")
            if not allowed and (status < 400 or status == 401):
                wrong.append(f"{method} {path} as {role}: {status}, but the view does not name the role")
            if role == "analyst" and method in WRITES and allowed and not public:
                if (service, method, path) not in ANALYST_WRITES:
                    wrong.append(f"{method} {path}: an analyst may write")
    assert wrong == [], "\n".join(wrong)
    answered = {
        view
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDOCUMENTED
        for view in [app.view_functions[rule.endpoint]]
        if not getattr(view, "vinculo_public", False)  # /metrics: for the scraper, not documented
    }
    assert answered - walked == set(), "routes missing from the OpenAPI document"
