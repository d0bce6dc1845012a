"""Imports: upload a CSV or JSON Lines file, follow the job, read the rejected rows
(and download their report through the console, so the API key stays on the server)."""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, stream_with_context, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from services.console.client import ApiFailure, api
from services.console.i18n import gettext as _
from services.console.i18n import locale
from services.console.security import may, requires

bp = Blueprint("imports", __name__, url_prefix="/imports")

RUNNING = ("uploading", "queued", "running")  # "mapping" waits for the user, not for a worker
FORMATS = ("csv", "jsonl")


def _list_page(form=None, errors=None, message=None, status=200):
    """The list with the upload form. Only a plain GET follows running jobs by reloading:
    reloading the answer to a refused upload would post the file again."""
    page = api().segments.get("/imports", limit=50, cursor=request.args.get("cursor"))
    follow = request.method == "GET" and any(job["status"] in RUNNING for job in page["items"])
    return render_template(
        "imports/index.html",
        page=page,
        form=form or {},
        errors=errors or {},
        message=message,
        formats=FORMATS,
        running=RUNNING,
        follow=follow,
    ), status


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    """A file over the console's limit: said at the field, not with an error page.

    Werkzeug refuses the body as soon as the form is read (the CSRF check
    reads it first), so the token was never checked: this only shows the
    list page, which the role must be allowed to see.
    """
    if not may("imports"):
        return render_template("error.html", status=413, failure=None, csrf=False), 413
    limit = g.settings.upload_max_bytes // (1024 * 1024)
    return _list_page(
        {},
        {"file": [_("The file is larger than {limit} MB.", limit=limit)]},
        _("Please correct the marked fields."),
        413,
    )


@bp.get("")
@requires("imports")
def index():
    return _list_page()


@bp.post("")
@requires("imports_write")
def upload():
    upload_file = request.files.get("file")
    form = {
        "format": request.form.get("format", ""),
        "default_country": request.form.get("default_country", ""),
    }
    if upload_file is None or not upload_file.filename:
        return _list_page(
            form,
            {"file": [_("Choose a CSV or JSON Lines file.")]},
            _("Please correct the marked fields."),
            422,
        )
    params = {
        "format": form["format"] if form["format"] in FORMATS else None,
        "default_country": form["default_country"].strip().upper() or None,
        "filename": upload_file.filename,
        "lang": locale(),
        # A CSV stops at the mapping step: the user sees the first rows and confirms the columns.
        "review": "true",
    }
    try:
        # The file as the raw body (the API takes its name and format as parameters):
        # streamed from the spooled upload, not copied into a multipart body in memory.
        job = api().segments.request("POST", "/imports", params=params, data=upload_file.stream)
    except ApiFailure as exc:
        if exc.status == 413:
            return _list_page(form, {"file": [exc.message]}, _("Please correct the marked fields."), 413)
        if exc.status != 422:
            raise
        errors = dict(exc.fields)
        if not errors:
            errors = {"file": [exc.message]}
        return _list_page(form, errors, exc.message, 422)
    return redirect(url_for("imports.show", job_id=job["id"]))


@bp.get("/<job_id>")
@requires("imports")
def show(job_id):
    job = api().segments.get(f"/imports/{job_id}")
    rejections = None
    if job["status"] in ("done", "failed"):
        rejections = api().segments.get(
            f"/imports/{job_id}/rejections", limit=100, cursor=request.args.get("cursor")
        )
    return render_template(
        "imports/show.html",
        job=job,
        rejections=rejections,
        refresh=job["status"] in RUNNING,
        errors={},
        labels=field_labels(),
    )


@bp.post("/<job_id>/start")
@requires("imports_write")
def start(job_id):
    """The mapping the user confirmed (each column -> a field, or ignored); the import runs."""
    job = api().segments.get(f"/imports/{job_id}")
    mapping = {
        column: (request.form.get(f"map.{i}") or None) for i, column in enumerate(job.get("header") or [])
    }
    try:
        api().segments.post(
            f"/imports/{job_id}/start",
            {"mapping": mapping, "remember": request.form.get("remember") == "yes"},
        )
    except ApiFailure as exc:
        if exc.status not in (409, 422):
            raise
        errors = {}
        for name, messages in exc.fields.items():
            column = name.removeprefix("mapping.")
            errors[column if column in mapping else "mapping"] = [_mapping_error(m) for m in messages]
        job["mapping"] = {column: target or "" for column, target in mapping.items()}
        return render_template(
            "imports/show.html",
            job=job,
            rejections=None,
            refresh=False,
            errors=errors or {"mapping": [exc.message]},
            labels=field_labels(),
        ), exc.status
    return redirect(url_for("imports.show", job_id=job_id))


def _mapping_error(message: str) -> str:
    if "another column" in message:
        return _("Another column is mapped to the same field.")
    if "email, phone or external_id" in message:
        return _("Map a column to the e-mail, the phone or the external id: rows are matched by them.")
    return _("Choose a field from the list.")


def field_labels() -> dict:
    """Profile fields in words, for the mapping step."""
    return {
        "external_id": _("External id (your customer code)"),
        "email": _("E-mail"),
        "phone": _("Phone"),
        "first_name": _("First name"),
        "last_name": _("Last name"),
        "locale": _("Language"),
        "time_zone": _("Time zone"),
        "country": _("Country"),
        "city": _("City"),
        "stage": _("Stage"),
        "tags": _("Tags"),
        "lat": _("Latitude"),
        "lng": _("Longitude"),
        "consent.source": _("Consent: where it was given"),
        "consent.date": _("Consent: date"),
        "consent.wording": _("Consent: wording version"),
        "consent.ip": _("Consent: IP"),
        "consent.form": _("Consent: form"),
    }


@bp.get("/<job_id>/progress")
@requires("imports")
def progress(job_id):
    """The job's figures as JSON, for the page's poll script."""
    job = api().segments.get(f"/imports/{job_id}")
    keys = ("status", "progress", "rows", "created", "updated", "unchanged", "rejected", "skipped", "guessed")
    return {key: job.get(key) for key in keys}


def proxy_csv(path: str, filename: str) -> Response:
    """Stream a service's CSV to the browser (the browser never sees the API key); with
    ``?excel=1``, the file Excel set up in Spanish opens as columns with its accents (UTF-8
    with a byte-order mark, ';'), not 'JosÃ©' in one column."""
    if request.args.get("excel") == "1":
        path += "?excel=true"
    answer = api().segments.download(path)
    disposition = answer.headers.get("Content-Disposition") or f'attachment; filename="{filename}"'

    def body():
        try:
            yield from answer.iter_content(chunk_size=64 * 1024)
        finally:
            answer.close()

    return Response(
        stream_with_context(body()), mimetype="text/csv", headers={"Content-Disposition": disposition}
    )


@bp.get("/<job_id>/report.csv")
@requires("imports")
def report(job_id):
    return proxy_csv(f"/imports/{job_id}/report.csv", f"import-{job_id}-report.csv")
