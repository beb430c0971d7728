"""Long work as jobs: their progress (`GET /jobs`, `GET /jobs/<id>`), an export's file (`GET /jobs/<id>/download`,
the file its download centre row keeps, web/api_downloads.py), and the customer export started as one
(`POST /exports`, as `POST /customers/exports`). A POST that starts a job answers `started(...)`:
202, `{"job": {...}}` and the job's URL in `Location`; the directory and tag syncs do the same."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from sqlalchemy import select

from jobs.export import KIND as EXPORT
from jobs.export import request_export
from jobs.queue import enqueue
from jobs.runtime import Runtime
from models import Download, JobRun, JobState, Role
from web import errors
from web.api import page
from web.auth import require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.customers import ExportQuery
from web.schemas.jobs import JobOut, JobQuery, Started
from web.schemas.common import Page
from web.scope import in_scope

bp = Blueprint("api_jobs", __name__, url_prefix="/api/v1")
errors.register(bp)


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


def _visible_run(job_id: int) -> JobRun:
    """The run, if this token may see it: another corp's is answered as absent, like every row."""
    with _runtime().Session() as s:
        run = s.get(JobRun, job_id)
    if run is None or not in_scope(run.corp_id):
        raise ApiError(404, "not_found", f"no job {job_id}")
    return run


def public(run: JobRun) -> dict[str, Any]:
    body = run.public()
    body["url"] = url_for("api_jobs.get_job", job_id=run.id)
    if run.kind == EXPORT and run.state == JobState.done.value:
        body["download"] = url_for("api_jobs.download", job_id=run.id)
    return body


def started(job_id: int, **extra: Any) -> tuple[Response, int, dict[str, str]]:
    """The answer to a POST that started job `job_id` (read after the enqueue: inline, it is done already)."""
    with _runtime().Session() as s:
        run = s.get(JobRun, job_id)
        assert run is not None
        body = {"job": public(run), **extra}
    return jsonify(body), 202, {"Location": body["job"]["url"]}


@bp.get("/jobs")
@require(Role.admin)
@endpoint("Long work (syncs, exports), newest first", query=JobQuery, response=Page[JobOut])
def list_jobs(query: JobQuery) -> Any:
    """Newest first; `kind` and `state` narrow it."""
    rows = select(JobRun).order_by(JobRun.id.desc())
    if g.principal.corp_id:
        rows = rows.where(JobRun.corp_id == g.principal.corp_id)
    if query.kind:
        rows = rows.where(JobRun.kind == query.kind)
    if query.state:
        rows = rows.where(JobRun.state == query.state)
    return page(rows, public, query)


@bp.get("/jobs/<id:job_id>")
@require(Role.admin)
@endpoint("One job with its progress (done/total, state, errors)", response=JobOut)
def get_job(job_id: int) -> Any:
    return jsonify(public(_visible_run(job_id)))


@bp.get("/jobs/<id:job_id>/download")
@require(Role.super_admin)
@endpoint("An export job's CSV file, once it is done (409 before, 410 once removed)", response=str)
def download(job_id: int) -> Any:
    """An export job's file, once it is done: the one kept in its download centre row."""
    from web.api_downloads import send_stored

    run = _visible_run(job_id)
    if run.kind != EXPORT:
        raise ApiError(404, "not_found", f"job {job_id} makes no file")
    if run.state != JobState.done.value:
        raise ApiError(409, "not_ready", f"job {job_id} is {run.state}, not done")
    with _runtime().Session() as s:
        row = s.scalar(select(Download).where(Download.job_id == job_id))
    if row is None or row.file_key is None:
        raise ApiError(410, "gone", f"the file of job {job_id} is no longer there")
    return send_stored(row)


@bp.post("/exports")
@require(Role.super_admin)
@endpoint("The customer export as a job (202): GET /customers/export.csv's filters in the query string",
          query=ExportQuery, response=Started, status=202)
def start_export(query: ExportQuery) -> Any:
    """The customer export as a job. The filters are checked here (a bad one is a 400 now, not a failed job
    later); the job replays this request's query string (jobs.export)."""
    from web.api_customers import audit_export, export_query

    corp_id, _, _ = export_query(query)
    with _runtime().WriteSession.begin() as s:
        job_id = request_export(s, corp_id, request.args.to_dict(flat=False), g.principal, f"token:{g.principal.name}")
    audit_export(corp_id, query, job_id=job_id)
    enqueue("export_customers", job_id)
    return started(job_id)
