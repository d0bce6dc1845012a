"""Admin pages: the people who may sign in, their roles, states and last activity;
inviting someone by mail."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from services.console import accounts
from services.console.i18n import gettext as _
from services.console.security import requires
from services.console.views.account import _mail_link, refused_message

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(errors=None, form=None, message=None, status=200):
    return render_template(
        "admin/users.html",
        users=accounts.list_users(),
        roles=accounts.ROLES,
        errors=errors or {},
        form=form or {},
        message=message,
        required=accounts.two_factor_roles(),
    ), status


@bp.get("/users")
@requires("admin")
def users():
    sent = request.args.get("sent")
    message = {
        "1": _("Invitation sent."),
        "0": _("The account was created but the mail could not be sent."),
    }.get(sent)
    return _page(message=message)


@bp.post("/users")
@requires("admin")
def invite():
    form = {key: request.form.get(key, "") for key in ("email", "name", "role")}
    try:
        user = accounts.create_user(form["email"], form["name"], form["role"])
    except accounts.Refused as exc:
        return _page({exc.field: [refused_message(exc)]}, form, status=422)
    return redirect(url_for("admin.users", sent="1" if _mail_link(user, "invite") else "0"))


def _user(user_id):
    user = accounts.get_user(user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/users/<user_id>/role")
@requires("admin")
def change_role(user_id):
    try:
        accounts.set_role(_user(user_id), request.form.get("role", ""))
    except accounts.Refused as exc:
        return _page({exc.field: [refused_message(exc)]}, status=422)
    return redirect(url_for("admin.users"))


@bp.post("/users/<user_id>/state")
@requires("admin")
def change_state(user_id):
    state = request.form.get("state", "")
    if state not in ("active", "disabled"):
        abort(400)
    user = _user(user_id)
    if state == "active" and not user.get("password_hash"):
        state = "invited"  # enabling someone who never chose a password: invited again
    accounts.set_state(user, state)
    return redirect(url_for("admin.users"))


@bp.post("/two-factor")
@requires("admin")
def two_factor():
    """Roles whose people must turn on two-factor before they open any page."""
    accounts.require_two_factor(request.form.getlist("roles"))
    return redirect(url_for("admin.users"))
