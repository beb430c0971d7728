"""The lead import over the admin API (导入线索, 004 §4.7): the template, the upload that starts the job
(jobs/lead_import.py; its progress and "共N条记录, 成功X, 失败Y" at `GET /jobs/<id>`, and in the uploader's download
centre, `GET /downloads`), and the file of failed rows (kept there 7 days)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g
from werkzeug.datastructures import FileStorage

from jobs.lead_import import KIND, MAX_BYTES, template
from jobs.progress import open_run
from jobs.queue import enqueue
from jobs.downloads import open_download
from models import Download, DownloadKind, JobRun, JobState, Role
from web import errors
from web.api_downloads import send_stored
from web.api_jobs import started
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import actor, runtime
from web.schemas.common import CorpQuery
from web.schemas.jobs import Started
from web.schemas.leads import ImportQuery
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_lead_import", __name__, url_prefix="/api/v1")
errors.register(bp)

FORM_OVERHEAD = 16 * 1024
TYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.get("/leads/import-template")
@require(Role.admin)
@endpoint("The import template (CSV or XLSX): 姓名 (required), 手机号, 性别, 公司, 职位, 来源渠道, 标签 (names, "
          "comma separated)", query=ImportQuery, response=str)
def import_template(query: ImportQuery) -> Any:
    return Response(template(query.format), mimetype=TYPES[query.format],
                    headers={"Content-Disposition": f'attachment; filename="lead-import-template.{query.format}"'})


@bp.post("/leads/imports")
@require(Role.admin, max_body=MAX_BYTES + FORM_OVERHEAD)
@endpoint("Import leads from a CSV or XLSX file (≤ 2 MB, multipart field `file`) as a job (202): each row a "
          "lead, bad rows reported with their row number and reason, duplicates by mobile reported, never merged",
          query=CorpQuery, upload="file", response=Started, status=202)
def start_import(query: CorpQuery, upload: FileStorage) -> Any:
    name = (upload.filename or "leads.csv")[-128:]
    if not name.lower().endswith((".csv", ".xlsx")):
        raise ApiError(422, "invalid", "file: a .csv or .xlsx file", {"file": "a .csv or .xlsx file"})
    data = upload.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ApiError(413, "too_large", f"file: at most {MAX_BYTES} bytes")
    folder = Path(runtime().settings.export_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"lead-import-{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    path.write_bytes(data)
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        run = open_run(s, KIND, corp_id, f"token:{g.principal.name}", path=str(path), filename=name,
                       actor=actor())
        open_download(s, run.id, corp_id, g.principal, DownloadKind.imported, "leads", name)
        audit(s, "lead.import", f"corp:{corp_id}", job_id=run.id, filename=name, bytes=len(data))
        job_id = run.id
    enqueue("import_leads", job_id)
    return started(job_id)


@bp.get("/leads/imports/<id:job_id>/failures")
@require(Role.admin)
@endpoint("An import's failed rows as CSV (行号, 原因, the row's cells); 409 before the job is done, 404 when "
          "no row failed", response=str)
def import_failures(job_id: int) -> Any:
    with runtime().Session() as s:
        run = s.get(JobRun, job_id)
    if run is None or run.kind != KIND or not in_scope(run.corp_id):
        raise ApiError(404, "not_found", f"no lead import {job_id}")
    if run.state != JobState.done.value:
        raise ApiError(409, "not_ready", f"job {job_id} is {run.state}, not done")
    download_id = (run.result or {}).get("download_id")
    if not (run.result or {}).get("failed") or download_id is None:
        raise ApiError(404, "not_found", f"import {job_id} has no failed rows")
    with runtime().Session() as s:
        row = s.get_one(Download, download_id)
    if row.file_key is None:
        raise ApiError(410, "gone", f"the failed rows of import {job_id} were removed after 7 days")
    return send_stored(row)
