"""The download centre (下载中心, 004 §9.1): the caller's own imports and exports of the last 30 days with
their job's state and progress, and their files, kept 7 days (jobs/downloads.py purges them), fetched by
their owner only: anyone else's is answered as absent (404). The customer export starts here as a job
(`POST /customers/exports`); `GET /customers/export.csv` still streams it at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, send_file, url_for
from sqlalchemy import select

from jobs.export import request_export
from jobs.queue import enqueue
from jobs.runtime import Runtime
from models import Download, JobRun, JobState, Role
from models.db import utcnow
from models.operations import LISTED_DAYS
from storage import Missing, storage
from web import errors
from web.api import page_rows
from web.api_jobs import public
from web.auth import require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.customers import ExportQuery
from web.schemas.operations import DownloadOut, DownloadQuery, DownloadStarted
from web.schemas.common import Page

bp = Blueprint("api_downloads", __name__, url_prefix="/api/v1")
errors.register(bp)

TYPES = {".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


def _own() -> Any:
    """The caller's downloads: a member's by their userid in their corp (whichever door they came in by:
    token or sidebar), anyone else's by their actor (and corp, when the token has one)."""
    principal = g.principal
    if principal.is_member:
        return select(Download).where(Download.corp_id == principal.corp_id, Download.userid == principal.userid)
    rows = select(Download).where(Download.owner == principal.actor, Download.userid.is_(None)
                                  if principal.userid is None else Download.userid == principal.userid)
    return rows.where(Download.corp_id == principal.corp_id) if principal.corp_id else rows


def _json(d: Download, run: JobRun) -> dict[str, Any]:
    return {"id": d.id, "corp_id": d.corp_id, "kind": d.kind, "what": d.what, "filename": d.filename,
            "owner": d.owner, "state": run.state, "done": run.done, "total": run.total, "rows": d.rows,
            "result": run.public()["result"], "errors": list(run.errors or []), "created_at": d.created_at.isoformat(),
            "expires_at": d.expires_at.isoformat() if d.expires_at else None,
            "file": url_for("api_downloads.download_file", download_id=d.id) if d.file_key else None,
            "job": url_for("api_jobs.get_job", job_id=run.id)}


def render(s: Any, rows: list[Download]) -> list[dict[str, Any]]:
    runs = {r.id: r for r in s.scalars(select(JobRun).where(JobRun.id.in_([d.job_id for d in rows])))}
    return [_json(d, runs[d.job_id]) for d in rows]


@bp.get("/downloads")
@require(Role.member)
@endpoint("The caller's own imports and exports of the last 30 days (下载中心), newest first, with their "
          "progress and, while it is kept (7 days), their file", query=DownloadQuery, response=Page[DownloadOut])
def list_downloads(query: DownloadQuery) -> Any:
    rows = _own().where(Download.created_at >= utcnow() - dt.timedelta(days=LISTED_DAYS))
    if query.kind:
        rows = rows.where(Download.kind == query.kind)
    return page_rows(rows.order_by(Download.id.desc()), render, query)


@bp.get("/downloads/<id:download_id>/file")
@require(Role.member)
@endpoint("A download's file, for its owner only (404 for anyone else; 409 before it is made; 410 once "
          "removed after 7 days)", response=bytes)
def download_file(download_id: int) -> Any:
    with _runtime().Session() as s:
        row = s.scalar(_own().where(Download.id == download_id))
        if row is None:
            raise ApiError(404, "not_found", f"no download {download_id}")
        state = s.get_one(JobRun, row.job_id).state
    if row.purged_at is not None:
        raise ApiError(410, "gone", f"the file of download {download_id} was removed after 7 days")
    if row.file_key is None:
        if state == JobState.done.value:
            raise ApiError(404, "not_found", f"download {download_id} made no file")
        raise ApiError(409, "not_ready", f"download {download_id} is {state}, not done")
    return send_stored(row)


def send_stored(row: Download) -> Any:
    """The stored file of `row` as an attachment (410 when the store no longer has it)."""
    assert row.file_key is not None
    try:
        stream = storage(_runtime()).open(row.file_key)
    except Missing:
        raise ApiError(410, "gone", f"the file of download {row.id} is no longer stored") from None
    suffix = row.filename[row.filename.rfind("."):].lower() if "." in row.filename else ""
    response = send_file(stream, mimetype=TYPES.get(suffix, "application/octet-stream"), as_attachment=True,
                         download_name=row.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/customers/exports")
@require(Role.super_admin)
@endpoint("The customer export into the caller's download centre (202): GET /customers/export.csv's filters "
          "in the query string", query=ExportQuery, response=DownloadStarted, status=202)
def export_customers(query: ExportQuery) -> Any:
    """Filters are checked here (a bad one is a 400 now), the same scope and filters as the list."""
    from web.api_customers import audit_export, export_query

    corp_id, _, _ = export_query(query)
    with _runtime().WriteSession.begin() as s:
        job_id = request_export(s, corp_id, request.args.to_dict(flat=False), g.principal, g.principal.actor)
    audit_export(corp_id, query, job_id=job_id)
    enqueue("export_customers", job_id)
    with _runtime().Session() as s:
        row = s.scalar(select(Download).where(Download.job_id == job_id))
        run = s.get_one(JobRun, job_id)
        body = {"download": _json(row, run), "job": public(run)}
    return jsonify(body), 202, {"Location": url_for("api_downloads.list_downloads")}
