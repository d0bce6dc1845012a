"""Single sign-on: OpenID Connect, authorization code with PKCE (S256), through Authlib.

Configured by ``VINCULO_CONSOLE_OIDC_*`` (issuer, client id and secret, the claim
holding groups or roles, ``value:role`` mapping, whether unknown people get an
account). The flow's state, nonce and PKCE verifier are kept in the store
(``console_pending``, by the hash of their key, for 10 minutes), not in the cookie;
Authlib checks the id_token's signature (the issuer's JWKS), issuer, audience,
expiry and nonce. The person is found by the token's email (which must not be
marked unverified); a mapped claim value sets their role at every sign-in; a
disabled account stays out; two-factor, when the person turned it on, is still asked.
"""

from __future__ import annotations

import datetime
import logging

from authlib.integrations.flask_client import OAuth
from flask import Blueprint, abort, current_app, g, redirect, render_template, session, url_for

from services.console import accounts, security
from services.console.i18n import gettext as _
from shared import store

bp = Blueprint("oidc", __name__)
log = logging.getLogger(__name__)
STATE_LIFETIME = 600


class StoreCache:
    """What Authlib's Flask integration needs of a cache (get/set/delete), in the store."""

    def get(self, key):
        doc = store.db().console_pending.find_one({"_id": "oidc:" + accounts.token_hash(key)})
        if not doc or doc["expires_at"] <= store.utcnow():
            return None
        return doc["value"]

    def set(self, key, value, expires=None):
        ident = "oidc:" + accounts.token_hash(key)
        store.db().console_pending.replace_one(
            {"_id": ident},
            {
                "_id": ident,
                "value": value,
                "expires_at": store.utcnow() + datetime.timedelta(seconds=STATE_LIFETIME),
            },
            upsert=True,
        )

    def delete(self, key):
        store.db().console_pending.delete_one({"_id": "oidc:" + accounts.token_hash(key)})


def init_app(app, settings) -> None:
    if not settings.oidc_issuer:
        return
    oauth = OAuth(app, cache=StoreCache())
    oauth.register(
        "oidc",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid email profile",
            "code_challenge_method": "S256",
            "timeout": settings.api_timeout,
        },
    )
    app.extensions["vinculo_oidc"] = oauth


def _client():
    oauth = current_app.extensions.get("vinculo_oidc")
    if oauth is None:
        abort(404)
    return oauth.oidc


@bp.get("/sign-in/oidc")
def start():
    redirect_uri = g.settings.link_base + url_for("oidc.callback")
    return _client().authorize_redirect(redirect_uri)


def _refused(message: str, status: int = 403):
    return render_template("sign_in.html", error=message, next=""), status


def _role_from(claims: dict) -> str | None:
    """The highest role a mapped claim value gives (None: no value is mapped)."""
    values = claims.get(g.settings.oidc_role_claim)
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return None
    roles = [
        g.settings.oidc_role_map[v] for v in values if isinstance(v, str) and v in g.settings.oidc_role_map
    ]
    return max(roles, key=accounts.RANK.get) if roles else None


@bp.get("/sign-in/oidc/callback")
def callback():
    client = _client()
    try:
        token = client.authorize_access_token()
    except Exception as exc:  # noqa: BLE001 - any failure of the exchange or the id_token's checks
        log.warning("single sign-on refused: %s: %s", type(exc).__name__, exc)
        return _refused(_("Single sign-on did not work; try again or sign in with your password."), 401)
    claims = dict(token.get("userinfo") or {})
    # The account is found (or made) by this email: one the provider does not say it verified
    # (no claim at all included, unless the operator trusts its addresses) opens nothing.
    verified = claims.get("email_verified")
    if not (verified is True or (verified is None and g.settings.oidc_trust_email)):
        return _refused(_("Your identity provider has not verified your email."))
    try:
        email = accounts.checked_email(claims.get("email") or "")
    except accounts.Refused:
        return _refused(_("Your identity provider sent no usable email."))
    role = _role_from(claims)
    user = accounts.find_user(email)
    if user is None:
        if not g.settings.oidc_create_users or role is None:
            log.info("single sign-on: no account for this person and none created")
            return _refused(
                _("There is no account for {email}. Ask an administrator to invite you.", email=email)
            )
        name = claims.get("name") or email.partition("@")[0]
        try:
            user = accounts.create_user(email, name, role, state="active")
        except accounts.Refused:
            user = accounts.create_user(email, email.partition("@")[0], role, state="active")
    if user["state"] == "disabled":
        return _refused(_("Wrong email or password."), 401)
    if user["state"] == "invited":
        accounts.set_state(user, "active")
    if role and role != user["role"]:
        accounts.set_role(user, role)
    user = accounts.get_user(user["_id"])
    if user.get("totp_secret"):
        session["pending"] = accounts.start_pending(user)
        return redirect(url_for("auth.second_factor"))
    security.sign_in(user["role"], user["name"], user)
    return redirect(url_for("dashboard.index"))
