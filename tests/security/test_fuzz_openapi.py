"""schemathesis over every API's OpenAPI document, in-process (WSGI) on a real store and
broker: the full Unicode alphabet (surrogates and controls included), positive and negative
examples, as the admin. No response may be a 5xx, and every status answered must be one the
operation documents."""

from __future__ import annotations

import json
import os
import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from tests.security.conftest import service_app
from tests.support import ADMIN_KEY

EXAMPLES = int(os.environ.get("VINCULO_FUZZ_EXAMPLES", "100"))


def fuzz(app, examples: int):
    config = SchemathesisConfig()
    config.projects.default.generation.update(codec=None, max_examples=examples)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    problems: list[str] = []
    statuses: Counter = Counter()
    calls: Counter = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        calls[f"{operation.method.upper()} {operation.path}"] += 0
        documented = {str(code) for code in operation.definition.raw.get("responses", {})}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            seen: set[str] = set()

            @hsettings(
                max_examples=examples // 2,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                case.headers = {**(case.headers or {}), "X-API-Key": ADMIN_KEY}
                response = case.call()
                code = response.status_code
                statuses[code] += 1
                calls[f"{operation.method.upper()} {operation.path}"] += 1
                key = f"{operation.method.upper()} {operation.path} {code}"
                if key in seen:
                    return
                if code >= 500 and not (code == 503 and "503" in documented):  # /readyz: a dependency down
                    seen.add(key)
                    problems.append(f"{key}: {case.as_curl_command()[:400]} -> {response.text[:300]}")
                elif str(code) not in documented and "default" not in documented:
                    seen.add(key)
                    problems.append(f"{key} undocumented: {case.as_curl_command()[:300]}")

            try:
                run()
            except Unsatisfiable:
                pass
    return problems, statuses, calls


@pytest.mark.parametrize("service", ["segments", "campaigns", "mailer", "listener"])
def test_no_5xx_and_every_status_documented(service, service_env):
    app = service_app(service, service_env, **({"smtp_port": 9} if service == "mailer" else {}))
    problems, statuses, calls = fuzz(app, EXAMPLES)
    print(service, dict(statuses))
    assert not problems, "\n".join(problems)
    assert len(calls) >= 10 and all(calls.values()), calls  # every operation was called
    assert sum(calls.values()) >= len(calls) * EXAMPLES // 2, (sum(calls.values()), len(calls))


@pytest.mark.parametrize("service", ["segments", "campaigns", "mailer", "listener"])
def test_every_operation_documents_the_errors_of_the_shared_layers(service, service_env):
    spec = service_app(service, service_env).test_client().get("/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            if operation.get("security") != []:
                assert "401" in documented, (method, path)
                assert "429" in documented, (method, path)  # failed keys are throttled per address
            if "requestBody" in operation and "application/json" in operation["requestBody"]["content"]:
                assert {"400", "413", "415", "422"} <= documented, (method, path, documented)
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "422" in documented, (method, path)
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                assert "404" in documented, (method, path)


@pytest.mark.parametrize("service", ["segments", "campaigns", "mailer", "listener"])
def test_each_schema_is_one_component_of_the_document(service, service_env):
    """A client generated from the document has one type per thing: no numbered copy
    (APIFlask added the mailer's single delivery as ``DeliveryOut1`` beside the page's
    ``DeliveryOut``), and every reference names a component that exists."""
    spec = service_app(service, service_env).test_client().get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    copies = [
        name
        for name in schemas
        if (base := name.rstrip("0123456789")) != name and schemas.get(base) == schemas[name]
    ]
    assert copies == []
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert refs and refs <= set(schemas), refs - set(schemas)
