"""Scheduled upkeep: the sweeper that finds work whose enqueue was lost.

A callback is stored before it is enqueued, and an outbox row is committed before its job is enqueued;
if Redis was down at that moment, or a worker died holding the job, the row waits. The sweeper enqueues
inbox rows still `received` and outbox rows still `pending` after `older_than` seconds, unless RQ already
holds a queued or scheduled job for them. Running a job twice is harmless (both jobs check status), so
the sweeper errs on the side of enqueueing.

An outbox row whose effect RQ re-scheduled (a failed attempt's retry, a WeCom rate limit) has a due time,
`next_attempt_at`: the sweeper leaves it alone until `older_than` seconds past it. By then RQ's scheduler
should have moved the job to its queue; if RQ still calls it scheduled, no scheduler is running it (one
died holding the scheduler lock, or none runs), so the sweeper enqueues the row itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select

from jobs.events import push_inbox
from jobs.queue import enqueue, job
from jobs.runtime import current
from models import Inbox, InboxStatus, Outbox, OutboxStatus
from models.db import utcnow

WAITING = {"queued", "scheduled", "deferred"}
OVERDUE_WAITING = {"queued"}
"""A job past its due time waits only in a queue; "scheduled" then means no scheduler is moving it."""


def _waiting_in_rq(redis: Any, job_id: str, overdue: bool = False) -> bool:
    if redis is None:
        return False
    from rq.job import Job
    from rq.exceptions import NoSuchJobError

    try:
        status = Job.fetch(job_id, connection=redis).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status is not None and str(getattr(status, "value", status)) in (OVERDUE_WAITING if overdue else WAITING)


def sweep(older_than: int | None = None, limit: int = 1000) -> dict[str, int]:
    """Enqueue stranded inbox and outbox rows; returns how many of each were enqueued."""
    runtime = current()
    age = runtime.settings.sweep_after_seconds if older_than is None else older_than
    cutoff = utcnow() - dt.timedelta(seconds=age)
    with runtime.Session() as s:
        inbox_ids = s.scalars(
            select(Inbox.id).where(Inbox.status == InboxStatus.received.value, Inbox.received_at <= cutoff)
            .order_by(Inbox.id).limit(limit)
        ).all()
        outbox_rows = s.execute(
            select(Outbox.id, Outbox.queue, Outbox.next_attempt_at.is_not(None))
            .where(Outbox.status == OutboxStatus.pending.value, Outbox.created_at <= cutoff,
                   or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= cutoff))
            .order_by(Outbox.id).limit(limit)
        ).all()
    counts = {"inbox": 0, "outbox": 0}
    stranded = [row_id for row_id in inbox_ids if not _waiting_in_rq(runtime.redis, f"inbox-{row_id}")]
    if runtime.redis is not None and stranded:  # back onto the list the ingress pushes to (jobs/events.py)
        push_inbox(runtime.redis, stranded, "events")
        counts["inbox"] = len(stranded)
    work = [("inbox", "process_event", row_id, None, False) for row_id in stranded if runtime.redis is None]
    work += [("outbox", "deliver_outbox", row_id, queue, bool(due)) for row_id, queue, due in outbox_rows]
    for kind, name, row_id, queue, overdue in work:
        job_id = f"{kind}-{row_id}"
        if not _waiting_in_rq(runtime.redis, job_id, overdue):
            enqueue(name, row_id, job_id=job_id, queue=queue)
            counts[kind] += 1
    return counts


@job("sweep", queue="maintenance")
def sweep_job() -> dict[str, int]:
    """The periodic form, run by `rq cron jobs.cron`."""
    return sweep()
