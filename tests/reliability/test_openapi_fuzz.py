"""Scenario 5: every service's OpenAPI fuzzed with schemathesis.

Each api runs as a real process (gunicorn, real store and broker); its own
/openapi.json drives the fuzzing, so a new endpoint is fuzzed the day it is
documented. For every operation, valid and invalid requests (bounded: a few
examples each, no shrinking) with the admin key must never answer 5xx, and
every error must be the JSON error shape {error, message, details}, except
on public pages for people (operations with no security requirement, such as
a click redirect or an unsubscribe page), which may answer an HTML page in
the customer's language.
VINCULO_FUZZ_EXAMPLES raises the count for a deeper run.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from devstack import inventory
from tests.support import ADMIN_KEY, ANALYST_KEY

EXAMPLES = int(os.environ.get("VINCULO_FUZZ_EXAMPLES", "8"))


def check_response(case, response) -> None:
    where = f"{case.method} {case.formatted_path} -> {response.status_code}\n{case.as_curl_command()}"
    # /readyz says 503 by design when what the part needs is down (the console alone: no APIs)
    readiness = case.formatted_path == "/readyz" and response.status_code == 503
    assert response.status_code < 500 or readiness, f"server error: {where}\n{response.text[:1000]}"
    content_type = (response.headers.get("content-type") or [""])[0]  # lower-cased names, list values
    public_page = case.operation.definition.raw.get("security") == [] and content_type.startswith("text/html")
    if response.status_code >= 400 and case.method != "HEAD" and not public_page:
        assert content_type.startswith("application/json"), f"{where}\n{content_type}"
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"error", "message", "details"}, f"{where}\n{body}"
        assert isinstance(body["error"], str) and body["error"], where
        assert isinstance(body["message"], str) and isinstance(body["details"], dict), where


@pytest.mark.slow
@pytest.mark.parametrize("service", inventory.services())
def test_the_api_survives_fuzzing_and_answers_errors_in_one_shape(service_env, service):
    extra = {}
    if service == "campaigns":  # it asks the mailer about a campaign's templates
        extra = {
            "VINCULO_CAMPAIGNS_MAILER_URL": service_env.start_api("mailer"),
            "VINCULO_CAMPAIGNS_MAILER_API_KEY": ANALYST_KEY,
        }
    base = service_env.start_api(service, **extra)
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{service} documents no operation"
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case):
                response = case.call(base_url=base, headers={"X-API-Key": ADMIN_KEY}, timeout=30)
                check_response(case, response)

            try:
                fuzz()
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"
