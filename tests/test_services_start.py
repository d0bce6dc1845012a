"""Each service starts alone, as a deployment would run it, and answers its
health endpoints and its OpenAPI document."""

from __future__ import annotations

import pytest
import requests

SERVICES = ["segments", "campaigns", "mailer", "listener"]


@pytest.mark.parametrize("service", SERVICES)
def test_service_api_starts_alone_and_is_ready(service_env, service):
    base = service_env.start_api(service)
    assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok", "service": service}
    ready = requests.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"store": "ok", "broker": "ok"}
    spec = requests.get(f"{base}/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.")
    assert (
        requests.get(f"{base}/openapi.json", timeout=5).headers["Content-Type"].startswith("application/json")
    )
