"""The resigned members' customers as WeCom lists them (externalcontact/get_unassigned_list, 离职待分配):
every page (by cursor) read, each member marked resigned at WeCom's dimission_time (handlers/directory.py
`resign_staff`, which also marks their customers to inherit), and each listed relation we know of kept
active under the leaver so the resigned-members list (web/api_transfers.py) counts it as awaiting.
Customers we have never seen are fetched (the sync_customer effect) and counted in the result."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.directory import resign_staff
from handlers.registry import HandlerContext
from jobs.outbound import EffectContext, effect
from jobs.progress import open_run, tracked
from jobs.queue import enqueue_outbox
from models import Customer, FollowRelation, Outbox
from models.db import utcnow

PAGE_SIZE = 1000  # WeCom's most per page


def request_unassigned_sync(ctx: HandlerContext, requested_by: str) -> Outbox:
    """The outbox row (and job run) of a sync; requests within one UTC minute share it (a double click
    syncs once). The caller flushes, then enqueues the row after commit."""
    key = f"sync_unassigned:{ctx.corp_id}:{utcnow():%Y%m%d%H%M}"
    row = ctx.session.scalar(select(Outbox).where(Outbox.key == key))
    if row is not None:
        return row
    run = open_run(ctx.session, "unassigned_sync", ctx.corp_id, requested_by)
    return ctx.outbox("sync_unassigned", {"app_pk": ctx.app_pk, "job_id": run.id}, key=key, fresh=True)


def _apply(s: Session, corp_id: str, rows: list[dict[str, Any]]) -> list[str]:
    """Write one page; returns the external_userids we do not know."""
    known = {c.external_userid: c for c in s.scalars(select(Customer).where(
        Customer.corp_id == corp_id, Customer.external_userid.in_({r["external_userid"] for r in rows})))}
    unknown = []
    for row in rows:
        at = dt.datetime.fromtimestamp(int(row.get("dimission_time") or 0), dt.UTC) if row.get("dimission_time") \
            else utcnow()
        resign_staff(s, corp_id, row["handover_userid"], at)
        customer = known.get(row["external_userid"])
        if customer is None:
            unknown.append(row["external_userid"])
        elif not any(f.userid == row["handover_userid"] for f in customer.follows):
            s.add(FollowRelation(customer_id=customer.id, corp_id=corp_id, userid=row["handover_userid"],
                                 added_at=at, inherit_status="to_inherit"))
    return unknown


@effect("sync_unassigned")
def sync_unassigned(ctx: EffectContext, job_id: int | None = None) -> dict[str, Any] | None:
    with tracked(job_id) as progress:
        cursor, listed, unknown = "", 0, []
        while True:
            page = ctx.client.post("externalcontact/get_unassigned_list",
                                   data={"cursor": cursor, "page_size": PAGE_SIZE})
            rows = page.get("info") or []
            with ctx.runtime.WriteSession.begin() as s:
                unknown += _apply(s, ctx.corp_id, rows)
            listed += len(rows)
            progress.total = progress.done = listed
            progress.flush()
            cursor = page.get("next_cursor") or ""
            if page.get("is_last", True) or not cursor:
                break

        fetch: list[tuple[int, str]] = []

        def write(s: Session) -> dict[str, Any]:
            h = HandlerContext(session=s, corp_id=ctx.corp_id, app_pk=ctx.app_pk)
            for ext in dict.fromkeys(unknown):
                h.outbox("sync_customer", {"app_pk": ctx.app_pk, "external_userid": ext},
                         key=f"sync_customer:unassigned:{ctx.outbox_id}:{ext}")
            s.flush()
            fetch.extend((r.id, r.queue) for r in h.pending_outbox)
            return {"listed": listed, "unknown_customers": len(set(unknown))}

        progress.result = ctx.finish(write)
    enqueue_outbox(fetch)
    return progress.result
