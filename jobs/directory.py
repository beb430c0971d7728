"""The full address-book sync: department/list and user/list over the whole corp, applied in one write.

It runs as the outbox effect `sync_directory`, requested by the admin API or the CLI through
`request_directory_sync` (the caller enqueues `deliver_outbox` after its commit). The writes are the
change_contact handlers' own (`handlers.directory`): departments missing from WeCom's answer are
soft-deleted, and staff of the corp missing from the member list are resigned with their customers
marked "to_inherit", exactly as a delete_user event does.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.directory import apply_department, apply_user, resign_staff
from jobs.outbound import EffectContext, effect
from jobs.progress import open_run, tracked
from models import Outbox, Staff
from models.db import utcnow
from models.directory import Department

log = logging.getLogger(__name__)


def request_directory_sync(session: Session, corp_id: str, app_pk: int, requested_by: str) -> Outbox:
    """Write (or find) the outbox row asking for a full sync, with its job run (`args["job_id"]`). Requests
    within the same UTC minute share one row and run, so a double click syncs once. The caller enqueues
    `deliver_outbox` after commit."""
    minute = utcnow().strftime("%Y%m%d%H%M")
    key = f"sync_directory:{corp_id}:{minute}"
    row = session.scalar(select(Outbox).where(Outbox.key == key))
    if row is None:
        run = open_run(session, "directory_sync", corp_id, requested_by)
        row = Outbox(key=key, corp_id=corp_id, job="sync_directory", args={"app_pk": app_pk, "job_id": run.id},
                     queue="outbound")
        session.add(row)
        session.flush()
        log.info("directory sync of %s requested by %s (outbox %s)", corp_id, requested_by, row.id)
    return row


def _root(departments: list[dict[str, Any]]) -> int:
    roots = [int(d["id"]) for d in departments if int(d.get("parentid") or 0) == 0]
    if roots:
        return min(roots)
    return min((int(d["id"]) for d in departments), default=1)


def apply_directory(s: Session, corp_id: str, departments: list[dict[str, Any]],
                    users: list[dict[str, Any]], at: dt.datetime) -> dict[str, Any]:
    """Upsert every department and member WeCom listed; delete/resign the ones it did not."""
    seen_depts = {apply_department(s, corp_id, d).dept_id for d in departments}
    deleted = 0
    for dept in s.scalars(select(Department).where(Department.corp_id == corp_id, Department.deleted_at.is_(None))):
        if dept.dept_id not in seen_depts:
            dept.deleted_at = at
            deleted += 1
    seen_users = {apply_user(s, corp_id, u, at).userid for u in users}
    resigned, to_inherit = 0, 0
    for staff in s.scalars(select(Staff).where(Staff.corp_id == corp_id, Staff.status != "resigned")).all():
        if staff.userid not in seen_users:
            to_inherit += resign_staff(s, corp_id, staff.userid, at)
            resigned += 1
    return {"departments": len(seen_depts), "departments_deleted": deleted, "staff": len(seen_users),
            "resigned": resigned, "to_inherit": to_inherit}


@effect("sync_directory")
def sync_directory(ctx: EffectContext, job_id: int | None = None) -> dict[str, Any] | None:
    """Progress (job run `job_id`): the two lists fetched, then their departments and members applied, in
    one transaction, so the count goes from fetched to all at its commit."""
    with tracked(job_id) as progress:
        departments = ctx.client.get("department/list").get("department", [])
        root = _root(departments)
        users = ctx.client.get("user/list", params={"department_id": root, "fetch_child": 1}).get("userlist", [])
        progress.total = len(departments) + len(users)
        progress.flush()

        def write(s: Session) -> dict[str, Any]:
            return apply_directory(s, ctx.corp_id, departments, users, utcnow())

        progress.result = ctx.finish(write)
    return progress.result
