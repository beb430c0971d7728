"""Plans (跟进计划, 000 §7) over the admin API: a calendar of one's own plans and one's subordinates', with
reminders. Writes go through models.plans, the functions the bot's /计划 uses, which also hold the reminder
rule (an edit moves it, done and delete cancel it, the scan sends it once). Who may read and write whose
plans: web/sales_scope.py `members_in_scope`. Delete is soft and for super_admin only (000 §7.5 删除计划日志
仅超管有此权限). Every write is in the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, g, jsonify
from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from models import Company, Contact, Corp, Customer, Plan, Role
from models.corp import messaging_app
from models.db import utcnow
from models.plans import LINKS, When, create_plan, delete_plan, edit_plan, finish_plan, whole_day
from rules.calendar import View, window
from web import errors
from web.api import page_rows
from web.auth import require
from web.endpoint import endpoint
from web.errors import ApiError
from web.org_scope import companies, contacts, visible
from web.sales_scope import act_for, actor, members_in_scope, runtime, visible_customer
from web.schemas.common import Deleted, Page
from web.schemas.plans import PlanBody, PlanEdit, PlanOut, PlanQuery, PlanStatus
from web.scope import check_corp, corp_and_app, in_scope

bp = Blueprint("api_plans", __name__, url_prefix="/api/v1")
errors.register(bp)

CLEARABLE = {*LINKS, "ends_at", "remind_at"}  # PATCH keys that may be null


def _invalid(field: str, why: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {why}", {field: why})


def _plan_json(p: Plan, zone: ZoneInfo) -> dict[str, Any]:
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"id": p.id, "corp_id": p.corp_id, "userid": p.userid, **{key: getattr(p, key) for key in LINKS},
            "text": p.text,
            "starts_at": p.starts_at.isoformat(), "ends_at": iso(p.ends_at), "all_day": p.all_day,
            "day": p.starts_at.astimezone(zone).date().isoformat() if p.all_day else None,
            "remind_at": iso(p.due_at), "reminded_at": iso(p.reminded_at),
            "status": PlanStatus.done if p.done_at else PlanStatus.open, "done_at": iso(p.done_at),
            "created_by": p.created_by, "created_at": iso(p.created_at)}


def _render(s: Session, rows: list[Plan]) -> list[dict[str, Any]]:
    zones = {corp: corp_zone(s, corp) for corp in {p.corp_id for p in rows}}
    return [_plan_json(p, zones[p.corp_id]) for p in rows]


def _visible_plan(s: Session, plan_id: int, lock: bool = False) -> Plan:
    """Plan `plan_id` if this token may see it (its corp, and its own or a subordinate's for a member),
    else 404; `lock`: held until the write commits, so the reminder rule reads what the scan committed."""
    query = select(Plan).where(Plan.id == plan_id, Plan.deleted_at.is_(None))
    plan = s.scalar(query.with_for_update() if lock else query)
    if plan is None or not in_scope(plan.corp_id):
        raise ApiError(404, "not_found", f"no plan {plan_id}")
    scope = members_in_scope(s, plan.corp_id)
    if scope is not None and plan.userid not in scope:
        raise ApiError(404, "not_found", f"no plan {plan_id}")
    return plan


def _linked(s: Session, corp_id: str | None, column: str, key: int) -> Customer | Company | Contact:
    """The customer, company or contact (`column`) `key`, if the caller may see it (else 404); of `corp_id`
    when that is given (else 422)."""
    row: Customer | Company | Contact
    if column == "customer_id":
        row = visible_customer(s, key)
    else:
        query, model, what = (companies(), Company, "company") if column == "company_id" else (contacts(), Contact,
                                                                                             "contact")
        row = visible(s, query, model, key, what)
    if corp_id is not None and row.corp_id != corp_id:
        raise _invalid(column, "of another corp")
    return row


def _span(starts_at: dt.datetime, ends_at: dt.datetime | None) -> When:
    if ends_at is not None and ends_at < starts_at:
        raise _invalid("ends_at", "before starts_at")
    return When(starts_at, ends_at)


def _when(starts_at: dt.datetime | None, ends_at: dt.datetime | None, day: dt.date | None, zone: ZoneInfo) -> When:
    """A new plan's time: a start (and end), or a whole corp-local day."""
    if day is not None:
        if starts_at is not None or ends_at is not None:
            raise _invalid("day", "an all-day plan has no starts_at or ends_at")
        return whole_day(day, zone)
    if starts_at is None:
        raise _invalid("starts_at", "required (or day, for an all-day plan)")
    return _span(starts_at, ends_at)


@bp.get("/plans")
@require(Role.member)
@endpoint("Plans (跟进计划) of the caller and their subordinates (all the corp's for an admin), by calendar "
          "window, earliest first", query=PlanQuery, response=Page[PlanOut])
def list_plans(query: PlanQuery) -> Any:
    """`view=day|week|month` with `date=YYYY-MM-DD` lists the plans overlapping that day, that week (weeks
    start on Monday) or that month of the corp's calendar (its time zone, not UTC; a token for several corps
    gets each corp's plans by its own calendar); `date` alone is that day; `view` alone holds today. A member
    sees their own plans and those of the members of the departments they lead (and the departments below);
    naming anyone else is a 403."""
    rows = select(Plan).where(Plan.deleted_at.is_(None))
    with runtime().Session() as s:
        check_corp(query.corp_id)
        corp_id = g.principal.corp_id or query.corp_id
        if corp_id:
            rows = rows.where(Plan.corp_id == corp_id)
        rows = _by_member(s, rows, corp_id, query.userid)
        for column in LINKS:
            if (key := getattr(query, column)) is not None:
                _linked(s, None, column, key)
                rows = rows.where(getattr(Plan, column) == key)
        if query.status is not None:
            rows = rows.where(Plan.done_at.is_(None) if query.status == PlanStatus.open else Plan.done_at.is_not(None))
        if query.view is not None or query.date is not None:
            corps = [corp_id] if corp_id else list(s.scalars(select(Corp.corp_id)))
            rows = rows.where(or_(false(), *(_in_view(s, corp, query.view or View.day, query.date) for corp in corps)))
    return page_rows(rows.order_by(Plan.starts_at, Plan.id), _render, query)


def _in_view(s: Session, corp_id: str, view: View, day: dt.date | None) -> ColumnElement[bool]:
    """`corp_id`'s plans overlapping the `view` around `day` (default: today) of that corp's calendar."""
    zone = corp_zone(s, corp_id)
    start, end = window(view, day or utcnow().astimezone(zone).date(), zone)
    return and_(Plan.corp_id == corp_id, Plan.starts_at < end, or_(Plan.starts_at >= start, Plan.ends_at > start))


def _by_member(s: Session, rows: Select, corp_id: str | None, userid: str | None) -> Select:
    """`rows` narrowed to the members this token may see (a member token's corp is always known), and to
    `userid` when given (403 outside them)."""
    scope = members_in_scope(s, corp_id) if corp_id else None
    if scope is not None:
        if userid is not None and userid not in scope:
            raise ApiError(403, "forbidden", "a member sees their own plans and their subordinates'")
        rows = rows.where(Plan.userid.in_(sorted(scope)))
    if userid is not None:
        rows = rows.where(Plan.userid == userid)
    return rows


@bp.get("/plans/<id:plan_id>")
@require(Role.member)
@endpoint("One plan", response=PlanOut)
def get_plan(plan_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_render(s, [_visible_plan(s, plan_id)])[0])


@bp.post("/plans")
@require(Role.member)
@endpoint("Create a plan for oneself or, for a department leader, a subordinate; with a reminder time, the "
          "member gets an app message then, once", body=PlanBody, response=PlanOut, status=201)
def create(body: PlanBody) -> Any:
    with runtime().WriteSession.begin() as s:
        links = {column: _linked(s, body.corp_id, column, key) for column in LINKS
                 if (key := getattr(body, column)) is not None}
        corps = {row.corp_id for row in links.values()}
        if len(corps) > 1:
            raise _invalid(sorted(links)[-1], "of another corp than the plan's other links")
        corp_id, app_pk = corp_and_app(s, corps.pop() if corps else body.corp_id)
        sender = messaging_app(s, corp_id)  # the app whose agentid message/send needs
        zone = corp_zone(s, corp_id)
        plan = create_plan(s, corp_id=corp_id, app_pk=sender[0] if sender else app_pk,
                           userid=act_for(s, corp_id, body.userid, "plans"), text=body.text,
                           when=_when(body.starts_at, body.ends_at, body.day, zone), remind_at=body.remind_at,
                           actor=actor(), **{column: row.id for column, row in links.items()})
        s.refresh(plan)  # the answer shows the times as stored (MariaDB keeps whole seconds)
        return jsonify(_plan_json(plan, zone)), 201


@bp.patch("/plans/<id:plan_id>")
@require(Role.member)
@endpoint("Edit a plan (a key left out stays); a new remind_at moves the reminder", body=PlanEdit, response=PlanOut)
def edit(plan_id: int, body: PlanEdit) -> Any:
    with runtime().WriteSession.begin() as s:
        plan = _visible_plan(s, plan_id, lock=True)
        zone = corp_zone(s, plan.corp_id)
        given = {key: getattr(body, key) for key in body.model_fields_set}
        for key, value in given.items():
            if value is None and key not in CLEARABLE:
                raise _invalid(key, "cannot be null")
        if "starts_at" in given and "ends_at" not in given and plan.ends_at and not plan.all_day:
            given["ends_at"] = given["starts_at"] + (plan.ends_at - plan.starts_at)  # a moved plan keeps its length
        changes: dict[str, Any] = {key: given[key] for key in ("text", "remind_at") if key in given}
        if "userid" in given:
            changes["userid"] = act_for(s, plan.corp_id, given["userid"], "plans")
        for column in LINKS:
            if column in given:
                key = given[column]
                changes[column] = None if key is None else _linked(s, plan.corp_id, column, key).id
        if "day" in given or "starts_at" in given:
            changes["when"] = _when(given.get("starts_at"), given.get("ends_at"), given.get("day"), zone)
        elif "ends_at" in given:
            if plan.all_day:
                raise _invalid("ends_at", "an all-day plan has no end time: give starts_at")
            changes["when"] = _span(plan.starts_at, given["ends_at"])
        if changes:
            edit_plan(s, plan, changes, actor=actor(), now=utcnow())
        s.flush()
        s.refresh(plan)
        return jsonify(_plan_json(plan, zone))


@bp.post("/plans/<id:plan_id>/done")
@require(Role.member)
@endpoint("Mark a plan done (a reminder not yet sent is not sent); done again changes nothing", response=PlanOut)
def done(plan_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        plan = _visible_plan(s, plan_id, lock=True)
        finish_plan(s, plan, actor=actor(), now=utcnow())
        s.flush()
        s.refresh(plan)
        return jsonify(_render(s, [plan])[0])


@bp.delete("/plans/<id:plan_id>")
@require(Role.super_admin)
@endpoint("Delete a plan (soft; super_admin only, as in the manual): its reminder is not sent", response=Deleted)
def delete(plan_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        delete_plan(s, _visible_plan(s, plan_id, lock=True), actor=actor(), now=utcnow())
        return jsonify({"id": plan_id, "deleted": True})
