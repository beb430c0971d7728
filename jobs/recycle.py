"""The recycle-bin purge: customers deleted longer ago than their corp's retention are removed for good.

Run hourly by `rq cron jobs.cron` and on demand by `flask --app app customers purge`. Each batch is its
own short write transaction (SQLite has one writer; a purge of 100,000 customers must not hold it for
minutes), and every batch is audited with the ids it removed.
"""

from __future__ import annotations

from models.auth import record_audit
from models.db import utcnow
from models.recycle import PURGE_BATCH, expired, purge
from jobs.queue import job
from jobs.runtime import current


def purge_recycle_bin(actor: str = "job:purge_recycle_bin", batch: int = PURGE_BATCH) -> int:
    """Purge every expired customer, a batch at a time; returns how many were purged."""
    runtime = current()
    total = 0
    now = utcnow()
    while True:
        with runtime.WriteSession.begin() as s:
            ids = expired(s, now, limit=batch)
            if not ids:
                return total
            purge(s, ids)
            record_audit(s, actor, "customer.purge", f"customers:{len(ids)}", ids=ids)
        total += len(ids)


@job("purge_recycle_bin", queue="maintenance")
def purge_recycle_bin_job() -> int:
    """The periodic form, run by `rq cron jobs.cron`."""
    return purge_recycle_bin()
