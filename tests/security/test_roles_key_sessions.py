"""A console session opened with an API key acts only as that key may, on each service.

Signing in with a key asks the first service (``/whoami``) for the key's role and opened
a session of that role; the services then accepted the session's ``vns_`` credential as
that role on every API, for up to 12 hours. So a key one service holds (a script's,
``VINCULO_SEGMENTS_API_KEYS``) became that role on all four through the console, and a
key taken out of the services' settings (rotated, leaked) went on working through every
session opened with it. The session now keeps the key's digest, and each service answers
a key's session with the role its own settings give that key, or 401."""

from __future__ import annotations

from services.console import accounts
from shared.http import auth
from tests.console.conftest import in_process_console
from tests.console.test_pages import signed_in
from tests.security.conftest import service_app
from tests.security.test_sessions import cookie_payload
from tests.support import API_KEYS, CM_KEY

SCRIPT_KEY = "segments-import-script-key-0123456789"


def whoami(app, credential):
    answer = app.test_client().get("/whoami", headers={"X-API-Key": credential})
    return answer.status_code, (answer.json or {}).get("role")


def test_a_key_session_is_the_key_on_each_service_and_ends_with_it(service_env):
    keys = f"{API_KEYS},{SCRIPT_KEY}:marketer"
    segments_url = service_env.start_api("segments", VINCULO_SEGMENTS_API_KEYS=keys)
    console = in_process_console(service_env, segments_url=segments_url)
    client = signed_in(console, SCRIPT_KEY, name="Script")
    session = accounts.SESSION_PREFIX + cookie_payload(console, client)[1]["sid"]

    segments = service_app("segments", service_env, api_keys=auth_keys(keys))
    assert whoami(segments, session) == (200, "marketer")  # where the key is a marketer's
    for service in ("mailer", "listener", "campaigns"):  # services that never gave the key a role
        assert whoami(service_app(service, service_env), SCRIPT_KEY)[0] == 401
        assert whoami(service_app(service, service_env), session)[0] == 401, service
    rotated = service_app("segments", service_env, api_keys=auth_keys(API_KEYS))  # the key taken out
    auth._cache.clear()
    assert whoami(rotated, session)[0] == 401
    demoted = service_app("segments", service_env, api_keys=auth_keys(f"{API_KEYS},{SCRIPT_KEY}:analyst"))
    assert whoami(demoted, session) == (200, "analyst")

    # a key valid everywhere keeps working everywhere through its session
    cm = signed_in(console, CM_KEY, name="Carla")
    cm_session = accounts.SESSION_PREFIX + cookie_payload(console, cm)[1]["sid"]
    for service in ("segments", "mailer", "listener", "campaigns"):
        assert whoami(service_app(service, service_env), cm_session) == (200, "community_manager")


def auth_keys(raw: str) -> dict[str, str]:
    from shared.settings import parse_api_keys

    return parse_api_keys(raw)


def test_a_personal_token_or_session_is_not_a_key_to_sign_in_with(service_env):
    """A person's token typed as an API key opened a session of no person: it outlived the
    token's revocation and the person's disabling (their sign-out everywhere ends sessions by
    person). The console now sends a person to their email and password."""
    import re

    from tests.console.test_pages import csrf_of, token
    from tests.security.test_sessions import sign_in_person

    listener_url = service_env.start_api("listener")
    console = in_process_console(service_env, listener_url=listener_url)
    accounts.create_user("marta@ejemplo.es", "Marta", "marketer", "una clave larga de marta")
    person, _ = sign_in_person(console, "marta@ejemplo.es", "una clave larga de marta")
    made = person.post(
        "/account/tokens", data={"csrf_token": csrf_of(person, "/account"), "name": "t", "role": "marketer"}
    )
    personal = re.search(r"vnt_[\w-]+", made.get_data(as_text=True)).group(0)
    own_session = accounts.SESSION_PREFIX + cookie_payload(console, person)[1]["sid"]
    for credential in (personal, own_session):
        client = console.test_client()
        answer = client.post(
            "/sign-in", data={"csrf_token": token(client), "api_key": credential, "name": "X"}
        )
        assert answer.status_code == 401, credential[:4]
        assert client.get("/dashboard").status_code == 302  # still signed out
