"""The download centre's side of imports and exports (004 §9.1): the `downloads` row opened with the job
run that does the work, the file kept in storage/ (local disk or S3) once the job has made it, and the
hourly purge of files past their 7 days (`purge_downloads_job`, jobs/cron.py).

The row is owned by whoever asked (their actor, corp and, for a member, userid): the list and the file
route (web/api_downloads.py) show it to that owner only. Its state and progress are its job run's."""

from __future__ import annotations

import datetime as dt
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.queue import job
from jobs.runtime import current
from models import Download, DownloadKind
from models.db import utcnow
from models.operations import KEPT_DAYS
from storage import storage
from web.auth import Principal

PURGE_BATCH = 200


def open_download(s: Session, job_id: int, corp_id: str, principal: Principal, kind: DownloadKind, what: str,
                  filename: str) -> Download:
    """The centre's row for job run `job_id`, owned by `principal`, in the caller's transaction."""
    row = Download(corp_id=corp_id, owner=principal.actor, userid=principal.userid, kind=kind.value, what=what,
                   filename=filename[-160:], job_id=job_id)
    s.add(row)
    s.flush()
    return row


def keep_file(job_id: int, data: IO[bytes], content_type: str, rows: int | None,
              filename: str | None = None) -> int | None:
    """Store the file job run `job_id` made (read to its end) for its download row, kept KEPT_DAYS from now;
    the row's id, or None when the run has no download row (nothing is stored then)."""
    runtime = current()
    with runtime.Session() as s:
        download_id = s.scalar(select(Download.id).where(Download.job_id == job_id))
    if download_id is None:
        return None
    key = storage(runtime).put(data, content_type)
    with runtime.WriteSession.begin() as s:
        row = s.get_one(Download, download_id)
        row.file_key, row.rows, row.expires_at = key, rows, utcnow() + dt.timedelta(days=KEPT_DAYS)
        if filename:
            row.filename = filename[-160:]
    return download_id


def purge_downloads(now: dt.datetime | None = None) -> int:
    """Remove every file past its keep time from storage (the row stays listed, without its file); how many."""
    runtime = current()
    now = now or utcnow()
    purged = 0
    while True:
        with runtime.Session() as s:
            due = s.execute(select(Download.id, Download.file_key).where(
                Download.expires_at <= now, Download.file_key.is_not(None)).limit(PURGE_BATCH)).all()
        if not due:
            return purged
        for _, key in due:
            storage(runtime).delete(key)
        with runtime.WriteSession.begin() as s:
            for download_id, _ in due:
                row = s.get_one(Download, download_id)
                row.file_key, row.purged_at = None, now
        purged += len(due)


@job("purge_downloads", queue="maintenance")
def purge_downloads_job() -> int:
    """Hourly (jobs/cron.py): the download centre's files past their 7 days."""
    return purge_downloads()
