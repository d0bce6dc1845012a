"""One's own account: sessions (sign out one or all), personal API tokens, password;
and the pages a mailed link opens (accept an invitation, reset a password)."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from services.console import accounts, security
from services.console.i18n import gettext as _

bp = Blueprint("account", __name__, url_prefix="/account")

MESSAGES = {  # accounts.Refused codes -> what the person reads
    "too_short": "At least 12 characters.",
    "too_long": "Too long.",
    "bad_character": "Contains a character that is not allowed.",
    "common": "Too common or too easy to guess: choose another.",
    "bad_email": "Not a valid email address.",
    "required": "Required.",
    "taken": "Someone already uses this email.",
    "bad_role": "Not a role.",
    "role_too_high": "A token may not have a higher role than yours.",
    "bad_days": "Between 1 and 3650 days.",
    "bad_state": "Not a state.",
}


def refused_message(exc: accounts.Refused) -> str:
    return _(MESSAGES.get(exc.code, "Not valid."))


def _signed_in_user():
    if not g.get("account"):
        return None
    return g.account.get("user")


def _page(errors=None, new_token=None, status=200, totp=None, recovery=None):
    user = _signed_in_user()
    current = accounts.token_hash(session["sid"])
    return render_template(
        "account/index.html",
        user=user,
        errors=errors or {},
        new_token=new_token,
        current=current,
        totp=totp,
        recovery=recovery,
        required_roles=accounts.two_factor_roles(),
        enroll=bool(user and not user.get("totp_secret") and user["role"] in accounts.two_factor_roles()),
        sessions=accounts.sessions_of(user["_id"]) if user else [],
        tokens=accounts.tokens_of(user["_id"]) if user else [],
        grantable=accounts.GRANTS[user["role"]] if user else (),
    ), status


@bp.get("")
@security.requires("dashboard")
def index():
    return _page()


def _user_or_404():
    user = _signed_in_user()
    if user is None:
        abort(404)
    return user


@bp.post("/sessions/<digest>/end")
@security.requires("dashboard")
def end_session(digest):
    accounts.end_session_of(_user_or_404()["_id"], digest)
    return redirect(url_for("account.index"))


@bp.post("/sessions/end-all")
@security.requires("dashboard")
def end_all():
    user = _user_or_404()
    accounts.end_sessions_of(user["_id"])
    security.sign_out()
    return redirect(url_for("auth.sign_in"))


@bp.post("/tokens")
@security.requires("dashboard")
def create_token():
    user = _user_or_404()
    if not user.get("totp_secret") and user["role"] in accounts.two_factor_roles():
        abort(403)  # two-factor is required for this role: no token that would skip it
    days = request.form.get("days", "").strip()
    try:
        if days and not days.isdigit():
            raise accounts.Refused("days", "bad_days")
        token = accounts.create_token(
            user, request.form.get("name", ""), request.form.get("role", ""), int(days) if days else None
        )
    except accounts.Refused as exc:
        return _page({exc.field: [refused_message(exc)]}, status=422)
    return _page(new_token=token)


@bp.post("/tokens/<digest>/revoke")
@security.requires("dashboard")
def revoke_token(digest):
    accounts.revoke_token(_user_or_404()["_id"], digest)
    return redirect(url_for("account.index"))


@bp.post("/two-factor/start")
@security.requires("dashboard")
def totp_start():
    user = _user_or_404()
    secret = accounts.start_totp(user)
    return _page(totp={"secret": secret, "uri": accounts.totp_uri(user, secret)})


@bp.post("/two-factor/confirm")
@security.requires("dashboard")
def totp_confirm():
    user = _user_or_404()
    codes = accounts.confirm_totp(user, request.form.get("code", ""))
    if codes is None:
        secret = accounts.pending_secret(user)
        return _page(
            {"code": [_("That code is not valid.")]},
            status=422,
            totp={"secret": secret, "uri": accounts.totp_uri(user, secret)} if secret else None,
        )
    g.account["user"] = accounts.get_user(user["_id"])
    return _page(recovery=codes)


@bp.post("/two-factor/off")
@security.requires("dashboard")
def totp_off():
    user = _user_or_404()
    if user["role"] in accounts.two_factor_roles():
        abort(403)  # the admin requires it for this role
    if not accounts.password_matches(user.get("password_hash"), request.form.get("current", "")):
        return _page({"totp_current": [_("Wrong password.")]}, status=422)
    accounts.disable_totp(user)
    return redirect(url_for("account.index"))


@bp.post("/password")
@security.requires("dashboard")
def change_password():
    user = _user_or_404()
    if not accounts.password_matches(user.get("password_hash"), request.form.get("current", "")):
        return _page({"current": [_("Wrong password.")]}, status=422)
    try:
        accounts.set_password(user, request.form.get("password", ""))
    except accounts.Refused as exc:
        return _page({exc.field: [refused_message(exc)]}, status=422)
    accounts.end_sessions_of(user["_id"])  # every other browser signs in again
    security.sign_in(user["role"], user["name"], user)
    return redirect(url_for("account.index"))


@bp.route("/set-password/<purpose>/<token>", methods=["GET", "POST"])
def set_password(purpose, token):
    """The page an invitation or reset mail links to: choose a password (the token is used
    up only when the password is accepted)."""
    if purpose not in accounts.LINK_LIFETIME:
        abort(404)
    user = accounts.peek_link_token(token, purpose)
    if user is None:
        return render_template("account/link.html", expired=True, errors={}), 410
    errors = {}
    if request.method == "POST":
        try:
            password = accounts.check_password(
                request.form.get("password", ""), email=user["email"], name=user.get("name") or ""
            )
        except accounts.Refused as exc:
            errors[exc.field] = [refused_message(exc)]
        else:
            if not accounts.use_link_token(token, purpose):
                return render_template("account/link.html", expired=True, errors={}), 410
            accounts.set_password(user, password)
            accounts.end_sessions_of(user["_id"])
            return redirect(url_for("auth.sign_in", done="password"))
    return render_template("account/link.html", expired=False, user=user, errors=errors, purpose=purpose), (
        422 if errors else 200
    )


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    """Ask for a reset link: the same answer whether or not the email has an account."""
    sent = False
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        client = request.remote_addr or "?"
        account = "reset:" + email.casefold()
        if not accounts.throttled(account, client):
            accounts.failed(account, client)  # every request counts: bounded mails per address
            user = accounts.find_user(email)
            if user and user["state"] == "active":
                _mail_link(user, "reset")
        sent = True
    return render_template("account/forgot.html", sent=sent)


def _mail_link(user: dict, purpose: str) -> bool:
    """Mail ``user`` a link for ``purpose``; False when the relay refused or did not answer."""
    token = accounts.issue_link_token(user, purpose)
    # The configured address, never the request's Host header (a forged Host would mail a
    # link to another site carrying the token).
    link = g.settings.link_base + url_for("account.set_password", purpose=purpose, token=token)
    if purpose == "invite":
        subject = "Te han invitado a Vínculo / You are invited to Vínculo"
        text = (
            f"Hola {user['name']}:\n\nTe han dado acceso a Vínculo. Elige tu contraseña aquí (válido 3 días):\n"
            f"{link}\n\nHello {user['name']},\n\nYou have been given access to Vínculo. Choose your password "
            f"here (valid for 3 days):\n{link}\n"
        )
    else:
        subject = "Cambia tu contraseña de Vínculo / Reset your Vínculo password"
        text = (
            f"Hola {user['name']}:\n\nPara elegir una contraseña nueva (válido 1 hora):\n{link}\n"
            f"Si no lo pediste, ignora este mensaje.\n\nHello {user['name']},\n\nTo choose a new password "
            f"(valid for 1 hour):\n{link}\nIf you did not ask for it, ignore this message.\n"
        )
    try:
        accounts.send_mail(user["email"], subject, text)
    except Exception as exc:  # noqa: BLE001 - reported to the admin, never as a 500
        import logging

        logging.getLogger(__name__).warning(
            "could not mail the %s link to user %s: %s", purpose, user["_id"], type(exc).__name__
        )
        return False
    return True
