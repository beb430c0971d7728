"""change_contact: the corp's address book (departments and staff), and the writes a full sync shares.

WeCom's change_contact events carry only what changed: fields absent from the event keep their stored
values. The same functions (`apply_user`, `apply_department`, `resign_staff`) serve the events and the
full sync (`jobs.directory.sync_directory`), so a member who leaves is handled by one code path: status
resigned, resigned_at set, and their active follow relations marked "to_inherit" (客户继承, 离职继承).
Only WeCom saying the member is gone resigns them: a delete_user event, status 5, or user/get answering
60111. A member the app merely no longer sees (its visible range shrank: user/list leaves them out and
user/get answers 60011) is `out_of_range` and keeps their customers (`mark_out_of_range`).
Mobile numbers are stored but never logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handlers.registry import HandlerContext, on
from models import Customer, FollowRelation, FollowStatus, Staff
from models.db import get_or_create, utcnow
from models.directory import Department
from wecom.events import ContactChangeEvent

log = logging.getLogger(__name__)

# WeCom's member status: 1 active, 2 disabled, 4 not activated, 5 left the corp.
STATUS = {1: "active", 2: "disabled", 4: "inactive", 5: "resigned"}
OUT_OF_RANGE = "out_of_range"
STAFF_STATUSES = ("active", "disabled", "inactive", "resigned", OUT_OF_RANGE)
TO_INHERIT = "to_inherit"


def _status(raw: Any, default: str) -> str:
    try:
        return STATUS.get(int(raw), default)
    except (TypeError, ValueError):
        return default


def _departments(raw: Any) -> list[int]:
    if isinstance(raw, str):
        raw = [p for p in raw.split(",") if p.strip()]
    out = []
    for item in raw or []:
        try:
            out.append(int(item))
        except (TypeError, ValueError):
            continue
    return out


def resign_staff(session: Session, corp_id: str, userid: str, at: dt.datetime) -> int:
    """Mark a member resigned (once: the first resigned_at stays) and their active follow relations
    "to_inherit"; returns how many relations were marked."""
    staff, _ = get_or_create(session, Staff, {"corp_id": corp_id, "userid": userid})
    staff.status = "resigned"
    if staff.resigned_at is None:
        staff.resigned_at = at
    result = session.execute(
        update(FollowRelation)
        .where(FollowRelation.corp_id == corp_id, FollowRelation.userid == userid,
               FollowRelation.status == FollowStatus.active.value, FollowRelation.inherit_status == "")
        .values(inherit_status=TO_INHERIT)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)


def mark_out_of_range(session: Session, corp_id: str, userid: str) -> bool:
    """The app no longer sees this member (not a departure): status out_of_range, customers untouched.
    A resigned member stays resigned; returns whether the status changed."""
    staff = session.scalar(select(Staff).where(Staff.corp_id == corp_id, Staff.userid == userid))
    if staff is None or staff.status in ("resigned", OUT_OF_RANGE):
        return False
    staff.status = OUT_OF_RANGE
    return True


def apply_user(session: Session, corp_id: str, payload: dict[str, Any], at: dt.datetime | None = None) -> Staff:
    """Upsert a staff member from a user/get or user/list record; keys the payload lacks keep their values.
    A status of 5 (left) goes through `resign_staff`."""
    staff, created = get_or_create(session, Staff, {"corp_id": corp_id, "userid": payload["userid"]})
    staff.name = payload.get("name", staff.name) or staff.name
    if "department" in payload:
        staff.department = _departments(payload["department"])
    if "mobile" in payload:
        staff.mobile = str(payload["mobile"] or "")
    if "position" in payload:
        staff.position = str(payload["position"] or "")
    if payload.get("direct_leader") is not None:
        leaders = payload["direct_leader"]
        leaders = leaders.split(",") if isinstance(leaders, str) else list(leaders)
        staff.manager_userid = (leaders[0] if leaders else None) or None
    default = "active" if created else staff.status
    status = _status(payload["status"], default) if "status" in payload else default
    if status == "resigned":
        resign_staff(session, corp_id, staff.userid, at or utcnow())
    else:
        staff.status = status
        staff.resigned_at = None
    return staff


def apply_department(session: Session, corp_id: str, payload: dict[str, Any]) -> Department:
    """Upsert a department from a department/list record (or an event's fields); it is alive again."""
    dept, _ = get_or_create(session, Department, {"corp_id": corp_id, "dept_id": int(payload["id"])})
    if payload.get("name"):
        dept.name = str(payload["name"])
    if "parentid" in payload and payload["parentid"] not in (None, ""):
        dept.parent_id = int(payload["parentid"])
    if "order" in payload and payload["order"] not in (None, ""):
        dept.order = int(payload["order"])
    if "department_leader" in payload:
        dept.leaders = list(payload["department_leader"] or [])
    dept.deleted_at = None
    return dept


def rename_user(session: Session, corp_id: str, old: str, new: str) -> None:
    """A member's userid changed (NewUserID): move the staff row and every reference of that corp."""
    if not new or new == old:
        return
    target = session.scalar(select(Staff).where(Staff.corp_id == corp_id, Staff.userid == new))
    source = session.scalar(select(Staff).where(Staff.corp_id == corp_id, Staff.userid == old))
    if source is not None and target is None:
        source.userid = new
    elif source is not None and target is not None:  # a replay after the rename, or both seen: keep the new
        session.delete(source)
    session.flush()
    session.execute(update(FollowRelation).where(FollowRelation.corp_id == corp_id, FollowRelation.userid == old)
                    .values(userid=new).execution_options(synchronize_session="fetch"))
    session.execute(update(Customer).where(Customer.corp_id == corp_id, Customer.owner_userid == old)
                    .values(owner_userid=new).execution_options(synchronize_session="fetch"))


def _user_payload(event: ContactChangeEvent) -> dict[str, Any]:
    """The event's member fields in user/get's shape, only those the event carries."""
    f = event.fields
    payload: dict[str, Any] = {"userid": event.new_user_id or event.user_id}
    if event.name:
        payload["name"] = event.name
    if "Department" in f:
        payload["department"] = list(event.department)
    if "Mobile" in f:
        payload["mobile"] = f["Mobile"]
    if "Position" in f:
        payload["position"] = f["Position"]
    if "DirectLeader" in f:
        payload["direct_leader"] = f["DirectLeader"]
    if event.status != "":
        payload["status"] = event.status
    return payload


@on("change_contact/create_user", "change_contact/update_user")
def user_changed(ctx: HandlerContext, event: ContactChangeEvent) -> None:
    if not event.user_id:
        log.info("%s without UserID ignored (inbox %s)", event.routing_key, ctx.inbox_id)
        return
    if event.new_user_id:
        rename_user(ctx.session, ctx.corp_id, event.user_id, event.new_user_id)
    apply_user(ctx.session, ctx.corp_id, _user_payload(event), event.create_time or utcnow())


@on("change_contact/delete_user")
def user_deleted(ctx: HandlerContext, event: ContactChangeEvent) -> None:
    if event.user_id:
        resign_staff(ctx.session, ctx.corp_id, event.user_id, event.create_time or utcnow())


@on("change_contact/create_party", "change_contact/update_party")
def party_changed(ctx: HandlerContext, event: ContactChangeEvent) -> None:
    if not str(event.party_id).strip():
        return
    payload: dict[str, Any] = {"id": event.party_id, "name": event.party_name}
    if event.parent_id != "":
        payload["parentid"] = event.parent_id
    if event.get("Order") != "":
        payload["order"] = event.get("Order")
    apply_department(ctx.session, ctx.corp_id, payload)


@on("change_contact/delete_party")
def party_deleted(ctx: HandlerContext, event: ContactChangeEvent) -> None:
    if not str(event.party_id).strip():
        return
    dept, _ = get_or_create(ctx.session, Department, {"corp_id": ctx.corp_id, "dept_id": int(event.party_id)})
    if dept.deleted_at is None:
        dept.deleted_at = event.create_time or utcnow()
