"""Models of web/api_jobs.py: long work's progress (job runs) and the answer of a POST that starts one."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from web.schemas.common import Out, PageQuery

JobStateName = Literal["queued", "running", "done", "failed"]


class JobQuery(PageQuery):
    kind: str | None = Field(None, max_length=32, description="directory_sync, tags_sync, customers_export, …")
    state: JobStateName | None = None


class JobOut(Out):
    id: int
    kind: str
    corp_id: str
    state: JobStateName
    done: int
    total: int | None = Field(description="unknown until the work has counted it")
    error_count: int
    errors: list[Any] = Field(description="the first 50 errors")
    result: dict[str, Any] | None
    requested_by: str
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    updated_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str
    download: str | None = Field(None, description="an export's file, once it is done")


class Started(Out):
    """202 for a POST that started a job: the job, and (for a WeCom sync) the outbox row that runs it."""

    job: JobOut
    outbox_id: int | None = None
    syncing: bool | None = None
