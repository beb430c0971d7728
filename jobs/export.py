"""The customer export as a job (`POST /api/v1/exports`): the CSV written to a file under
`SCRM_EXPORT_DIR`, its progress counted per batch of customers, downloaded from `GET /api/v1/jobs/<id>/download`.

The list's filters and a token's scope are read from the request (web.api_customers), so the job replays
the request that asked for the export: its query string and its token's principal, in a request context
of its own. The file then holds exactly what `GET /customers/export.csv` with that query would stream,
and a bad filter was already answered 400 at the POST by the same code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flask import Flask, g
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.progress import fail_run, open_run, tracked
from jobs.queue import job, on_dead
from jobs.runtime import Runtime, current
from models import JobRun
from web.auth import Principal

KIND = "customers_export"


def request_export(s: Session, corp_id: str, query: dict[str, list[str]], principal: Principal,
                   requested_by: str) -> int:
    """The export's job run (queued; the caller enqueues `export_customers` with its id after commit), with
    what replaying its request takes: the query string (the list's filters) and who asked."""
    return open_run(s, KIND, corp_id, requested_by, query=query, principal=asdict(principal)).id


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
        folder = Path(runtime.settings.export_dir)
        folder.mkdir(parents=True, exist_ok=True)
        filename = export_filename(corp_id)
        path = folder / f"job-{job_id}-{filename}"
        partial = path.with_suffix(".part")
        with open(partial, "w", encoding="utf-8", newline="") as out:
            for rows, text in csv_chunks(runtime, query, fields):
                out.write(text)
                progress.advance(rows)
        os.replace(partial, path)  # a half-written file never has the final name
        progress.result = {"path": str(path.resolve()), "filename": filename, "rows": progress.done}
    return "done"


@on_dead("export_customers")
def _failed(args: list[Any], error: str) -> None:
    fail_run(args[0], error)
