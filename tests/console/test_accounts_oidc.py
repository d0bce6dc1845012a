"""Single sign-on against a small OpenID Connect provider this test starts on loopback
(Flask, id_tokens signed RS256 with a key made for the test by joserfc, Authlib's JOSE library): the
authorization code flow with PKCE, role mapping, account creation on and off."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from services.console import accounts
from shared import store
from tests.console.conftest import in_process_console

CLIENT_ID, CLIENT_SECRET = "vinculo-console", "s3cret-del-cliente"
CONSOLE = "http://127.0.0.1:8000"  # the in-process console's link base (its default bind)


class Provider:
    """An OpenID provider whose signed-in person is ``self.person`` (a dict of claims)."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        self.codes: dict[str, dict] = {}
        self.person: dict = {}
        self.pkce_checked = 0
        app = Flask("oidc-provider")
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"

        @app.get("/.well-known/openid-configuration")
        def metadata():
            return jsonify(
                {
                    "issuer": self.base,
                    "authorization_endpoint": f"{self.base}/authorize",
                    "token_endpoint": f"{self.base}/token",
                    "jwks_uri": f"{self.base}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                }
            )

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize():
            args = request.args
            if (
                args.get("client_id") != CLIENT_ID
                or args.get("response_type") != "code"
                or args.get("code_challenge_method") != "S256"
                or not args.get("code_challenge")
                or "openid" not in args.get("scope", "").split()
            ):
                abort(400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "challenge": args["code_challenge"],
                "nonce": args.get("nonce"),
                "redirect_uri": args["redirect_uri"],
                "person": dict(self.person),
            }
            return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}")

        @app.post("/token")
        def token():
            form = request.form
            client = request.authorization
            client_id, secret = (
                (client.username, client.password)
                if client
                else (form.get("client_id"), form.get("client_secret"))
            )
            grant = self.codes.pop(form.get("code", ""), None)  # a code works once
            if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
                return jsonify({"error": "invalid_client"}), 401
            if (
                grant is None
                or form.get("grant_type") != "authorization_code"
                or form.get("redirect_uri") != grant["redirect_uri"]
            ):
                return jsonify({"error": "invalid_grant"}), 400
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if challenge != grant["challenge"]:
                return jsonify({"error": "invalid_grant", "error_description": "PKCE"}), 400
            self.pkce_checked += 1
            now = int(time.time())
            claims = {
                "iss": self.base,
                "aud": CLIENT_ID,
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                "sub": grant["person"]["email"],
                **grant["person"],
            }
            id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
            return jsonify(
                {
                    "access_token": secrets.token_urlsafe(16),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": id_token,
                }
            )

        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def provider():
    made = Provider()
    yield made
    made.stop()


def console_with_sso(service_env, listener_url, provider, create: bool):
    return in_process_console(
        service_env,
        listener_url=listener_url,
        oidc_issuer=provider.base,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_role_claim="groups",
        oidc_role_map={"Marketing España": "marketer", "it-admins": "admin", "lectores": "analyst"},
        oidc_create_users=create,
    )


def single_sign_on(client, provider):
    """Follow the flow as a browser would; the console's answer to the callback."""
    start = client.get("/sign-in/oidc")
    assert start.status_code == 302
    authorize = start.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{provider.base}/authorize") and query["code_challenge_method"] == ["S256"]
    assert "code_verifier" not in authorize
    back = requests.get(authorize, allow_redirects=False, timeout=10)
    callback = back.headers["Location"]
    assert callback.startswith(f"{CONSOLE}/sign-in/oidc/callback")
    return client.get(callback[len(CONSOLE) :]), callback[len(CONSOLE) :]


def test_single_sign_on_creates_a_mapped_person_and_refuses_a_replayed_callback(
    service_env, listener_url, provider
):
    app = console_with_sso(service_env, listener_url, provider, create=True)
    provider.person = {
        "email": "Lucía@Bücher.example",
        "email_verified": True,
        "name": "Lucía Ñúñez",
        "groups": ["Marketing España", "otra"],
    }
    client = app.test_client()
    answer, callback = single_sign_on(client, provider)
    assert answer.status_code == 302 and answer.headers["Location"] == "/dashboard", answer.get_data(
        as_text=True
    )
    assert provider.pkce_checked == 1
    user = accounts.find_user("lucía@bücher.example")
    assert user["role"] == "marketer" and user["name"] == "Lucía Ñúñez" and user["state"] == "active"
    assert user["password_hash"] is None  # no password: it signs in only through the provider
    assert "Lucía Ñúñez" in client.get("/dashboard").get_data(as_text=True)
    cookie = client.get_cookie("vinculo_console").value
    assert "Lucía" not in cookie and "marketer" not in cookie
    replay = app.test_client().get(callback)  # the same code and state again, from another browser
    assert replay.status_code == 401
    assert store.db().console_sessions.count_documents({}) == 1


def test_the_mapping_sets_an_existing_person_s_role_and_unknown_people_wait_for_an_invitation(
    service_env, listener_url, provider
):
    app = console_with_sso(service_env, listener_url, provider, create=False)
    accounts.create_user("ana@example.com", "Ana", "analyst")  # invited, never chose a password
    provider.person = {
        "email": "ana@example.com",
        "email_verified": True,
        "name": "Ana",
        "groups": ["it-admins"],
    }
    answer, _ = single_sign_on(app.test_client(), provider)
    assert answer.status_code == 302
    ana = accounts.find_user("ana@example.com")
    assert ana["role"] == "admin" and ana["state"] == "active"

    provider.person = {
        "email": "nuevo@example.com",
        "email_verified": True,
        "name": "Nuevo",
        "groups": ["Marketing España"],
    }
    refused, _ = single_sign_on(app.test_client(), provider)
    assert refused.status_code == 403 and "No hay ninguna cuenta" in refused.get_data(as_text=True)
    assert accounts.find_user("nuevo@example.com") is None

    provider.person = {"email": "ana@example.com", "email_verified": False, "groups": ["it-admins"]}
    unverified, _ = single_sign_on(app.test_client(), provider)
    assert unverified.status_code == 403

    accounts.set_state(accounts.find_user("ana@example.com"), "disabled")
    provider.person = {"email": "ana@example.com", "email_verified": True, "groups": ["it-admins"]}
    disabled, _ = single_sign_on(app.test_client(), provider)
    assert disabled.status_code == 401


def test_single_sign_on_still_asks_the_consoles_second_factor_and_a_required_role_enrols_first(
    service_env, listener_url, provider
):
    """The provider's word is not the console's second factor: a person who turned two-factor on is
    asked for their code after single sign-on, even when the id_token says the provider used MFA
    (``amr``; the README: "two-factor, when the person turned it on, is still asked"); a person of a
    role the admin requires two-factor for, without it yet, sees only their account page."""
    import datetime

    import pyotp

    app = console_with_sso(service_env, listener_url, provider, create=False)
    marta = accounts.create_user("marta@example.com", "Marta", "marketer", state="active")
    secret = pyotp.random_base32()
    store.db().users.update_one({"_id": marta["_id"]}, {"$set": {"totp_secret": secret}})
    provider.person = {
        "email": "marta@example.com",
        "email_verified": True,
        "groups": ["Marketing España"],
        "amr": ["pwd", "mfa", "otp"],
    }
    client = app.test_client()
    answer, _ = single_sign_on(client, provider)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/sign-in/code")
    assert store.db().console_sessions.count_documents({}) == 0
    assert client.get("/dashboard").headers["Location"].startswith("/sign-in")
    page = client.get("/sign-in/code").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    totp = pyotp.TOTP(secret)
    code = totp.generate_otp(totp.timecode(datetime.datetime.now(datetime.UTC)))
    signed = client.post("/sign-in/code", data={"csrf_token": csrf, "code": code})
    assert signed.status_code == 302 and client.get("/dashboard").status_code == 200

    accounts.require_two_factor(["admin"])
    accounts.create_user("ana@example.com", "Ana", "analyst", state="active")
    provider.person = {"email": "ana@example.com", "email_verified": True, "groups": ["it-admins"]}
    ana = app.test_client()
    answer, _ = single_sign_on(ana, provider)
    assert answer.status_code == 302
    assert ana.get("/dashboard").headers["Location"].startswith("/account?enroll=1")
    assert ana.get("/admin/users").headers["Location"].startswith("/account?enroll=1")
    assert ana.get("/account").status_code == 200
