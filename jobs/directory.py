"""The full address-book sync: department/list and user/list over the whole corp, applied in one write.

It runs as the outbox effect `sync_directory`, requested by the admin API or the CLI through
`request_directory_sync` (the caller enqueues `deliver_outbox` after its commit). The writes are the
change_contact handlers' own (`handlers.directory`): departments missing from WeCom's answer are
soft-deleted. department/list and user/list show only the app's visible range (doc 96260), so a member
missing from the list has not necessarily left: each is asked about with user/get. 60111 (no such
member) resigns them with their customers marked "to_inherit", exactly as a delete_user event does;
60011 (outside the visible range) marks them `out_of_range` and their customers stay theirs; an answer
means they are visible one by one (a range can name members) and they are upserted. user/list is asked
per listed department: the current doc 96260 has no fetch_child and says to walk the subdepartments.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.directory import apply_department, apply_user, mark_out_of_range, resign_staff
from jobs.outbound import EffectContext, effect
from models import Outbox, Staff
from models.db import utcnow
from models.directory import Department
from wecom.client import WeComClient, WeComError

log = logging.getLogger(__name__)


def request_directory_sync(session: Session, corp_id: str, app_pk: int, requested_by: str) -> Outbox:
    """Write (or find) the outbox row asking for a full sync. Requests within the same UTC minute share
    one row, so a double click syncs once. The caller enqueues `deliver_outbox` after commit."""
    minute = utcnow().strftime("%Y%m%d%H%M")
    key = f"sync_directory:{corp_id}:{minute}"
    row = session.scalar(select(Outbox).where(Outbox.key == key))
    if row is None:
        row = Outbox(key=key, corp_id=corp_id, job="sync_directory", args={"app_pk": app_pk}, queue="outbound")
        session.add(row)
        session.flush()
        log.info("directory sync of %s requested by %s (outbox %s)", corp_id, requested_by, row.id)
    return row


USER_NOT_FOUND, NOT_VISIBLE = 60111, 60011
"""user/get's answers for a member who does not exist, and for one outside the app's visible range."""


def apply_directory(s: Session, corp_id: str, departments: list[dict[str, Any]], users: list[dict[str, Any]],
                    at: dt.datetime, gone: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """Upsert every department and member WeCom listed; delete the departments it did not list. Of the
    members it did not list, those in `gone` (user/get said 60111) are resigned, the rest marked
    out_of_range."""
    seen_depts = {apply_department(s, corp_id, d).dept_id for d in departments}
    deleted = 0
    for dept in s.scalars(select(Department).where(Department.corp_id == corp_id, Department.deleted_at.is_(None))):
        if dept.dept_id not in seen_depts:
            dept.deleted_at = at
            deleted += 1
    seen_users = {apply_user(s, corp_id, u, at).userid for u in users}
    resigned, to_inherit, out_of_range = 0, 0, 0
    for staff in s.scalars(select(Staff).where(Staff.corp_id == corp_id, Staff.status != "resigned")).all():
        if staff.userid in seen_users:
            continue
        if staff.userid in gone:
            to_inherit += resign_staff(s, corp_id, staff.userid, at)
            resigned += 1
        elif mark_out_of_range(s, corp_id, staff.userid):
            out_of_range += 1
    return {"departments": len(seen_depts), "departments_deleted": deleted, "staff": len(seen_users),
            "resigned": resigned, "to_inherit": to_inherit, "out_of_range": out_of_range}


def _unlisted(client: WeComClient, userids: list[str]) -> tuple[list[dict[str, Any]], set[str]]:
    """Ask user/get about members user/list left out: (those it still answers for, those it says are gone).
    Members outside the visible range (60011) are in neither."""
    found, gone = [], set()
    for userid in userids:
        try:
            found.append(client.get_user(userid))
        except WeComError as exc:
            if exc.errcode == USER_NOT_FOUND:
                gone.add(userid)
            elif exc.errcode != NOT_VISIBLE:
                raise
    return found, gone


@effect("sync_directory")
def sync_directory(ctx: EffectContext) -> dict[str, Any] | None:
    departments = ctx.client.get("department/list").get("department", [])
    users: dict[str, dict[str, Any]] = {}
    for dept in departments:  # user/list has no fetch_child any more (doc 96260): one call per department
        page = ctx.client.get("user/list", params={"department_id": dept["id"]}).get("userlist", [])
        users.update((u["userid"], u) for u in page)
    with ctx.runtime.Session() as s:
        stored = s.scalars(select(Staff.userid).where(Staff.corp_id == ctx.corp_id,
                                                       Staff.status != "resigned")).all()
    found, gone = _unlisted(ctx.client, [userid for userid in stored if userid not in users])
    users.update((u["userid"], u) for u in found)

    def write(s: Session) -> dict[str, Any]:
        return apply_directory(s, ctx.corp_id, departments, list(users.values()), utcnow(), gone)

    return ctx.finish(write)
