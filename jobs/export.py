"""The customer export as a job (`POST /api/v1/customers/exports`, or `POST /api/v1/exports`): the CSV made in
a temporary file, its progress counted per batch of customers, then kept in the download centre (storage/,
jobs/downloads.py) for its owner: `GET /api/v1/downloads/<id>/file` (and `GET /api/v1/jobs/<id>/download`).

The list's filters and a token's scope are read from the request (web.api_customers), so the job replays
the request that asked for the export: its query string and its token's principal, in a request context
of its own. The file then holds exactly what `GET /customers/export.csv` with that query would stream,
and a bad filter was already answered 400 at the POST by the same code.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from flask import Flask, g
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.downloads import keep_file, open_download
from jobs.progress import fail_run, open_run, tracked
from jobs.queue import job, on_dead
from jobs.runtime import Runtime, current
from models import DownloadKind, JobRun
from web.auth import Principal

KIND = "customers_export"


def request_export(s: Session, corp_id: str, query: dict[str, list[str]], principal: Principal,
                   requested_by: str) -> int:
    """The export's job run (queued; the caller enqueues `export_customers` with its id after commit), with
    what replaying its request takes: the query string (the list's filters) and who asked; and its row in
    the asker's download centre."""
    from web.api_customers import export_filename

    job_id = open_run(s, KIND, corp_id, requested_by, query=query, principal=asdict(principal)).id
    open_download(s, job_id, corp_id, principal, DownloadKind.export, "customers", export_filename(corp_id))
    return job_id


@contextmanager
def replayed(runtime: Runtime, params: dict[str, Any]) -> Iterator[None]:
    """A request context with the export request's query string and principal."""
    shell = Flask(__name__)
    shell.extensions["scrm"] = runtime
    with shell.test_request_context(query_string=params["query"]):
        g.principal = Principal(**params["principal"])
        yield


@job("export_customers", queue="maintenance")
def export_customers(job_id: int) -> str:
    from web.api_customers import csv_chunks, export_filename, requested_export

    runtime = current()
    with runtime.Session() as s:
        run = s.get(JobRun, job_id)
        if run is None or run.finished:
            return "skipped"
        params = dict(run.params)
    with tracked(job_id) as progress, replayed(runtime, params):
        corp_id, query, fields = requested_export()
        with runtime.Session() as s:
            progress.total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        progress.flush()
        filename = export_filename(corp_id)
        with tempfile.TemporaryFile() as out:  # gone however the job ends: only the stored file remains
            for rows, text in csv_chunks(runtime, query, fields):
                out.write(text.encode())
                progress.advance(rows)
            out.seek(0)
            download_id = keep_file(job_id, out, "text/csv", progress.done, filename)
        progress.result = {"filename": filename, "rows": progress.done, "download_id": download_id}
    return "done"


@on_dead("export_customers")
def _failed(args: list[Any], error: str) -> None:
    fail_run(args[0], error)
