"""Uploads no record holds, removed with their files: an upload nobody attached within a day, and the
attachments of records that went with a purged customer (models.recycle leaves them unattached, as it
does every row that only may name its parent). Run hourly by `rq cron jobs.cron`.

Each batch deletes its rows and then its files inside one transaction, so a file is never gone while its
row is still attachable: a failure rolls the rows back (their files, deleted or not, go on the next run;
deleting a missing file is no error), and an upload being attached at that moment waits for the row lock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from jobs.queue import job
from jobs.runtime import current
from models import FollowUpAttachment
from models.db import utcnow
from storage import storage

UNCLAIMED_AFTER = dt.timedelta(hours=24)
BATCH = 200


def purge_unclaimed(now: dt.datetime | None = None, batch: int = BATCH) -> int:
    """Remove every attachment row without a record, uploaded before `now` - UNCLAIMED_AFTER, and its file;
    returns how many."""
    runtime = current()
    cutoff = (now or utcnow()) - UNCLAIMED_AFTER
    store = storage(runtime)
    total = 0
    while True:
        with runtime.WriteSession.begin() as s:
            rows = s.execute(select(FollowUpAttachment.id, FollowUpAttachment.storage_key).where(
                FollowUpAttachment.follow_up_id.is_(None), FollowUpAttachment.created_at <= cutoff)
                .order_by(FollowUpAttachment.id).limit(batch).with_for_update()).all()
            if not rows:
                return total
            s.execute(delete(FollowUpAttachment).where(FollowUpAttachment.id.in_([r.id for r in rows])))
            for row in rows:
                if row.storage_key:
                    store.delete(row.storage_key)
        total += len(rows)


@job("purge_unclaimed_attachments", queue="maintenance")
def purge_unclaimed_job() -> int:
    """The periodic form, run by `rq cron jobs.cron`."""
    return purge_unclaimed()
