"""Listening: queries, the mentions inbox with one-click triage, charts per query, alert episodes."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from services.console import charts
from services.console.client import ApiFailure, api
from services.console.i18n import gettext as _
from services.console.security import person_name, requires, role

bp = Blueprint("listening", __name__, url_prefix="/listening")

SOURCES = ("x", "mastodon", "rss")
LANGS = ("es", "en", "und")
LABELS = ("negative", "neutral", "positive")
STATUSES = ("new", "assigned", "resolved")
FILTERS = ("label", "lang", "source", "status", "query_id", "known")
# Series keys -> CSS class: negative is red on every page (the chips, the inbox, the charts).
LABEL_COLOURS = {"negative": "negative", "neutral": "neutral", "positive": "positive"}
LIST_FIELDS = ("keywords", "hashtags", "handles", "exclusions", "feeds")


def _filters() -> dict:
    allowed = {"label": LABELS, "lang": LANGS, "source": SOURCES, "status": STATUSES, "known": ("true",)}
    return {
        key: request.args[key]
        for key in FILTERS
        if request.args.get(key) and (key not in allowed or request.args[key] in allowed[key])
    }


@bp.get("/mentions")
@requires("listening")
def inbox():
    filters = _filters()
    page = api().listener.get("/mentions", limit=50, cursor=request.args.get("cursor"), **filters)
    queries = api().listener.get("/queries", limit=200)["items"]
    newest = _newest(page["items"], "")
    return render_template(
        "listening/inbox.html",
        page=page,
        filters=filters,
        queries=queries,
        newest=newest,
        sources=SOURCES,
        langs=LANGS,
        labels=LABELS,
        statuses=STATUSES,
    )


def _newest(items: list[dict], default: str) -> str:
    """The last stored mention on the page: the inbox is in the posts' order, and a poll
    may store a post older than those shown, so "new since" compares ids, not places."""
    return max((m["id"] for m in items), default=default)


@bp.get("/mentions/rows")
@requires("listening")
def rows():
    """The inbox rows alone (for the poll script), and how many are newer than ``after``."""
    filters = _filters()
    page = api().listener.get("/mentions", limit=50, **filters)
    after = request.args.get("after") or ""
    fresh = [m for m in page["items"] if m["id"] > after] if after else []
    html = render_template(
        "listening/_rows.html", items=page["items"], filters=filters, fresh={m["id"] for m in fresh}
    )
    return {
        "html": html,
        "total": page["total"],
        "fresh": len(fresh),
        "newest": max(_newest(page["items"], after), after),
    }


@bp.post("/mentions/<mention_id>/<action>")
@requires("listening_triage")
def triage(mention_id, action):
    who = person_name() or role()
    try:
        if action == "assign":
            api().listener.post(
                f"/mentions/{mention_id}/assign", {"assignee": request.form.get("assignee") or who, "by": who}
            )
        elif action == "resolve":
            api().listener.post(f"/mentions/{mention_id}/resolve", {"by": who})
        elif action == "sentiment":
            api().listener.post(
                f"/mentions/{mention_id}/sentiment", {"label": request.form.get("label"), "by": who}
            )
        else:
            return render_template("error.html", status=404, failure=None), 404
    except ApiFailure as exc:
        if exc.status not in (409, 422):
            raise
        return render_template(
            "error.html",
            status=exc.status,
            failure=exc,
            back=request.form.get("back") or url_for("listening.inbox"),
        ), exc.status
    back = request.form.get("back") or ""
    return redirect(back if back.startswith("/listening/") else url_for("listening.inbox"))


@bp.get("/queries")
@requires("listening")
def queries():
    page = api().listener.get("/queries", limit=200)
    return render_template("listening/queries.html", page=page)


def _query_body(form) -> dict:
    body = {
        "name": form.get("name", "").strip(),
        "languages": [lang for lang in ("es", "en") if form.get(f"lang_{lang}")],
        "sources": [source for source in SOURCES if form.get(f"source_{source}")],
        "active": form.get("active") == "on",
        "webhook_url": form.get("webhook_url", "").strip() or None,
    }
    for name in LIST_FIELDS:
        body[name] = [
            item.strip() for item in form.get(name, "").replace("\n", ",").split(",") if item.strip()
        ]
    return body


def _query_form(query: dict | None) -> dict:
    if not query:
        return {"active": True, "sources": ["rss"], "languages": []}
    form = dict(query)
    for name in LIST_FIELDS:
        form[name] = ", ".join(query.get(name) or [])
    return form


@bp.route("/queries/new", methods=["GET", "POST"])
@requires("listening_write")
def new_query():
    if request.method == "GET":
        return render_template("listening/query_form.html", query=None, form=_query_form(None), errors={})
    body = _query_body(request.form)
    try:
        created = api().listener.post("/queries", body)
    except ApiFailure as exc:
        if exc.status != 422:
            raise
        return render_template(
            "listening/query_form.html",
            query=None,
            form={**body, **{name: request.form.get(name, "") for name in LIST_FIELDS}},
            errors=exc.fields,
            message=exc.message,
        ), 422
    return redirect(url_for("listening.query", query_id=created["id"]))


@bp.route("/queries/<query_id>/edit", methods=["GET", "POST"])
@requires("listening_write")
def edit_query(query_id):
    query = api().listener.get(f"/queries/{query_id}")
    if request.method == "GET":
        return render_template("listening/query_form.html", query=query, form=_query_form(query), errors={})
    body = _query_body(request.form)
    try:
        api().listener.patch(f"/queries/{query_id}", body)
    except ApiFailure as exc:
        if exc.status != 422:
            raise
        return render_template(
            "listening/query_form.html",
            query=query,
            form={**body, **{name: request.form.get(name, "") for name in LIST_FIELDS}},
            errors=exc.fields,
            message=exc.message,
        ), 422
    return redirect(url_for("listening.query", query_id=query_id))


@bp.post("/queries/<query_id>/active")
@requires("listening_write")
def toggle(query_id):
    api().listener.patch(f"/queries/{query_id}", {"active": request.form.get("active") == "true"})
    return redirect(url_for("listening.query", query_id=query_id))


@bp.get("/queries/<query_id>")
@requires("listening")
def query(query_id):
    q = api().listener.get(f"/queries/{query_id}")
    days = api().listener.get(f"/queries/{query_id}/stats")["days"][-30:]
    alerts = api().listener.get("/alerts", query_id=query_id, limit=20)
    drawn = {}
    if days:
        labels = [d["day"][5:] for d in days]
        drawn["volume"] = charts.bar_chart(
            labels,
            {k: [d[k] for d in days] for k in LABELS},
            _("Mentions per day"),
            {k: _(k) for k in LABELS},
            stacked=True,
            colours=LABEL_COLOURS,
        )
        drawn["sentiment"] = charts.line_chart(
            labels,
            {"mean": [d.get("mean_sentiment") for d in days]},
            _("Mean sentiment per day (-1 = very negative, 1 = very positive)"),
            {"mean": _("Mean sentiment")},
            low=-1,
            top=1,
        )
    return render_template("listening/query.html", q=q, days=days, charts=drawn, alerts=alerts)


@bp.get("/alerts")
@requires("listening")
def alerts():
    page = api().listener.get(
        "/alerts", limit=50, status=request.args.get("status") or None, cursor=request.args.get("cursor")
    )
    names = {q["id"]: q["name"] for q in api().listener.get("/queries", limit=200)["items"]}
    return render_template("listening/alerts.html", page=page, names=names)
