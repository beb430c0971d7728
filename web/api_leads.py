"""Leads (线索, 004 §4.7) over the admin API: the list with the manual's filters, one lead with its change
history, create and edit, bulk tags, discard (废弃) with restore and delete, assignment by hand and the link
to the customer a lead became, the CSV export. The writes themselves are web/lead_writes.py's (the import
and the inbound webhook write through it too). Scope: web/org_scope.py `leads()` (a member: their own)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from jobs.queue import enqueue_outbox
from models import Customer, FollowUp, Lead, LeadChange, LeadTag, Role, Staff
from models.db import utcnow
from models.lead import LeadStatus
from web import errors, lead_writes
from web.api import _like, page_rows, time_filter
from web.api_sales_exports import _export
from web.auth import audit, require
from web.csv_export import local
from web.endpoint import endpoint
from web.errors import ApiError
from web.org_scope import leads, visible
from web.sales_scope import actor, runtime
from web.schemas.admin import TimeRange
from web.schemas.common import DeletedId, Items, Page
from web.schemas.leads import (AssignBody, AssignOut, Batch, ChangeOut, LeadBody, LeadEdit, LeadFilters, LeadOut,
                               LeadQuery, LinkBody, TagChange)
from web.scope import corp_and_app

bp = Blueprint("api_leads", __name__, url_prefix="/api/v1")
errors.register(bp)

SCOPE = "A member sees and writes the leads they own; any other lead is a 404, by id and in lists."


def _days(lead: Lead, now: dt.datetime) -> int:
    since = lead.last_followed_at or lead.created_at or now
    return max(0, (now - since).days)


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at else None


def render(s: Session, rows: list[Lead]) -> list[dict[str, Any]]:
    tags = lead_writes.tags_of(s, [r.id for r in rows])
    now = utcnow()
    return [{"id": r.id, "corp_id": r.corp_id, "name": r.name, "mobile": r.mobile, "gender": r.gender,
             "company": r.company, "position": r.position, "source": r.source, "status": r.status,
             "owner": r.owner_userid, "creator": r.creator, "tags": tags[r.id], "fields": r.fields or {},
             "needs_manual": r.needs_manual, "customer_id": r.customer_id,
             "last_followed_at": _iso(r.last_followed_at), "days_without_follow_up": _days(r, now),
             "assigned_at": _iso(r.assigned_at), "discarded_at": _iso(r.discarded_at), "created_at": _iso(r.created_at)}
            for r in rows]


def lead_rows(filters: LeadFilters, discarded: bool = False) -> Select:
    """The leads `filters` ask for among those this token may see, newest first (the list, the export)."""
    rows = leads().where(Lead.discarded_at.is_not(None) if discarded else Lead.discarded_at.is_(None))
    if filters.keyword:
        pattern = _like(filters.keyword)
        rows = rows.where(or_(Lead.name.like(pattern, escape="\\"), Lead.mobile.like(pattern, escape="\\"),
                              Lead.company.like(pattern, escape="\\")))
    for column, value in ((Lead.owner_userid, filters.owner), (Lead.creator, filters.creator),
                          (Lead.source, filters.source), (Lead.status, filters.status),
                          (Lead.needs_manual, filters.needs_manual), (Lead.customer_id, filters.customer_id)):
        if value is not None:
            rows = rows.where(column == value)
    if filters.unassigned is not None:
        rows = rows.where(Lead.owner_userid.is_(None) if filters.unassigned else Lead.owner_userid.is_not(None))
    if filters.tag:
        rows = rows.where(Lead.id.in_(select(LeadTag.lead_id).where(LeadTag.tag_pk.in_(filters.tag))))
    rows = time_filter(rows, Lead.created_at,
                       TimeRange.model_validate({"since": filters.created_since, "until": filters.created_until}))
    rows = time_filter(rows, Lead.last_followed_at,
                       TimeRange.model_validate({"since": filters.followed_since, "until": filters.followed_until}))
    if filters.not_followed_days is not None:
        rows = rows.where(func.coalesce(Lead.last_followed_at, Lead.created_at)
                          <= utcnow() - dt.timedelta(days=filters.not_followed_days))
    return rows.order_by(Lead.id.desc())


def _lead(s: Session, lead_id: int, discarded: bool | None = False) -> Lead:
    """Lead `lead_id` if this token may see it (and it is, or is not, discarded as asked), else 404."""
    query = leads()
    if discarded is not None:
        query = query.where(Lead.discarded_at.is_not(None) if discarded else Lead.discarded_at.is_(None))
    row: Lead = visible(s, query, Lead, lead_id, "lead")
    return row


def _one(s: Session, lead: Lead) -> dict[str, Any]:
    s.flush()
    return render(s, [lead])[0]


def _member_owner(given: str | None) -> str | None:
    """A member's leads are their own: a member token assigns to itself (naming another is a 403)."""
    principal = g.principal
    if not principal.is_member:
        return given
    if given not in (None, principal.userid):
        raise ApiError(403, "forbidden", "a member token makes leads it owns")
    return str(principal.userid)


def _staff(s: Session, corp_id: str, userids: list[str], name: str) -> None:
    known = set(s.scalars(select(Staff.userid).where(Staff.corp_id == corp_id, Staff.userid.in_(userids))))
    unknown = [u for u in userids if u not in known]
    if unknown:
        raise lead_writes.invalid(name, f"not members of this corp: {', '.join(unknown[:5])}")


@bp.get("/leads")
@require(Role.member)
@endpoint("Leads (线索) the caller may see, newest first; discarded=true: the discarded list", query=LeadQuery,
          response=Page[LeadOut], description=SCOPE)
def list_leads(query: LeadQuery) -> Any:
    return page_rows(lead_rows(query, query.discarded), render, query)


@bp.post("/leads")
@require(Role.member)
@endpoint("Create a lead (name required; a mobile the corp has is a 409). Assigned to `owner` if given (a "
          "member's: their own), else by the first matching rule, else flagged for manual handling",
          body=LeadBody, response=LeadOut, status=201, description=SCOPE)
def create_lead(body: LeadBody) -> Any:
    owner = _member_owner(body.owner)
    values = lead_writes.clean(body.model_dump(include={"name", "mobile", "gender", "company", "position", "source"}))
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        if owner is not None:
            _staff(s, corp_id, [owner], "owner")
        lead, written = lead_writes.create(s, corp_id, values, body.tags, body.fields, actor(), actor(), owner)
        audit(s, "lead.create", f"lead:{lead.id}", source=lead.source, owner=lead.owner_userid)
        answer = _one(s, lead)
    enqueue_outbox((o.id, o.queue) for o in written.outbox)
    return jsonify(answer), 201


@bp.get("/leads/<id:lead_id>")
@require(Role.member)
@endpoint("One lead (a discarded one too)", response=LeadOut, description=SCOPE)
def get_lead(lead_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_one(s, _lead(s, lead_id, None)))


@bp.patch("/leads/<id:lead_id>")
@require(Role.member)
@endpoint("Change a lead's fields (a field left out stays); every change is in its history", body=LeadEdit,
          response=LeadOut, description=SCOPE)
def update_lead(lead_id: int, body: LeadEdit) -> Any:
    values = lead_writes.clean(body.model_dump(exclude_none=True, exclude={"fields"}))
    with runtime().WriteSession.begin() as s:
        lead = _lead(s, lead_id)
        lead_writes.edit(s, lead, values, body.fields, actor())
        audit(s, "lead.update", f"lead:{lead.id}", changed=sorted(values) + sorted(body.fields or {}))
        return jsonify(_one(s, lead))


@bp.get("/leads/<id:lead_id>/history")
@require(Role.member)
@endpoint("A lead's change history (变更记录): every field and tag, who, when, old → new, oldest first",
          response=Items[ChangeOut], description=SCOPE)
def lead_history(lead_id: int) -> Any:
    with runtime().Session() as s:
        lead = _lead(s, lead_id, None)
        items = [{"field": c.field, "old": c.old, "new": c.new, "actor": c.actor, "at": c.at.isoformat()}
                 for c in s.scalars(select(LeadChange).where(LeadChange.lead_id == lead.id)
                                    .order_by(LeadChange.at, LeadChange.id))]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/leads/tags")
@require(Role.member)
@endpoint("Add and remove tags (the corp's customer tags) on several leads at once (批量打标签); our own "
          "rows only, WeCom is not called (a lead is no WeCom contact)", body=TagChange, response=Batch,
          description=SCOPE)
def tag_leads(body: TagChange) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        rows = list(s.scalars(leads().where(Lead.id.in_(body.lead_ids), Lead.corp_id == corp_id)))
        missing = set(body.lead_ids) - {r.id for r in rows}
        if missing:
            raise ApiError(404, "not_found", f"no lead {min(missing)}")
        lead_writes.tag_rows(s, corp_id, [*body.add, *body.remove], "add" if body.add else "remove")
        for lead in rows:
            lead_writes.change_tags(s, lead, body.add, body.remove, actor())
        audit(s, "lead.tag", f"corp:{corp_id}", lead_ids=sorted(r.id for r in rows), add=body.add,
              remove=body.remove)
    return jsonify({"changed": len(rows)})


def _set_discarded(lead_id: int, discard: bool) -> Any:
    with runtime().WriteSession.begin() as s:
        lead = _lead(s, lead_id, not discard)
        lead_writes.set_discarded(s, lead, discard, actor())
        audit(s, "lead.discard" if discard else "lead.restore", f"lead:{lead.id}")
        return jsonify(_one(s, lead))


@bp.post("/leads/<id:lead_id>/discard")
@require(Role.member)
@endpoint("Discard a lead (废弃): it leaves the list for the discarded one", response=LeadOut, description=SCOPE)
def discard_lead(lead_id: int) -> Any:
    return _set_discarded(lead_id, True)


@bp.post("/leads/<id:lead_id>/restore")
@require(Role.admin)
@endpoint("Restore a discarded lead to the list", response=LeadOut)
def restore_lead(lead_id: int) -> Any:
    return _set_discarded(lead_id, False)


@bp.delete("/leads/<id:lead_id>")
@require(Role.super_admin)
@endpoint("Delete a discarded lead for good, with its tags and history (409 while it is not discarded or has "
          "follow-up records)", response=DeletedId)
def delete_lead(lead_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        lead = _lead(s, lead_id, None)
        if lead.discarded_at is None:
            raise ApiError(409, "conflict", "discard the lead first: only a discarded lead is deleted")
        if s.scalar(select(FollowUp.id).where(FollowUp.lead_id == lead.id).limit(1)) is not None:
            raise ApiError(409, "conflict", "the lead has follow-up records")
        s.query(LeadTag).filter(LeadTag.lead_id == lead.id).delete()
        s.query(LeadChange).filter(LeadChange.lead_id == lead.id).delete()
        s.delete(lead)
        audit(s, "lead.delete", f"lead:{lead_id}", name=lead.name)
    return jsonify({"deleted": lead_id})


@bp.post("/leads/assign")
@require(Role.admin)
@endpoint("Assign leads (分配) to members, or to departments' members, round robin or even; each assignee "
          "owns the lead (it converts: see README) and is told once by app message", body=AssignBody,
          response=AssignOut)
def assign_leads(body: AssignBody) -> Any:
    if not body.userids and not body.departments:
        raise lead_writes.invalid("userids", "name members (userids) or departments")
    with runtime().WriteSession.begin() as s:
        rows = list(s.scalars(leads().where(Lead.id.in_(body.lead_ids), Lead.discarded_at.is_(None))
                              .order_by(Lead.id)))
        missing = set(body.lead_ids) - {r.id for r in rows}
        if missing:
            raise ApiError(404, "not_found", f"no lead {min(missing)}")
        corps = {r.corp_id for r in rows}
        if len(corps) != 1:
            raise lead_writes.invalid("lead_ids", "leads of one corp at a time")
        corp_id = corps.pop()
        _staff(s, corp_id, body.userids, "userids")
        members = list(dict.fromkeys([*body.userids, *lead_writes.members_of(s, corp_id, body.departments)]))
        if not members:
            raise lead_writes.invalid("departments", "no active member in these departments")
        takers = lead_writes.spread(s, corp_id, members, len(rows), body.spread)
        written = lead_writes.Written()
        for lead, userid in zip(rows, takers, strict=True):
            lead_writes.assign(s, lead, userid, actor(), written)
        audit(s, "lead.assign", f"corp:{corp_id}", lead_ids=[r.id for r in rows], spread=body.spread,
              userids=body.userids, departments=body.departments)
        items = [{"lead_id": r.id, "owner": u} for r, u in zip(rows, takers, strict=True)]
    enqueue_outbox((o.id, o.queue) for o in written.outbox)
    return jsonify({"items": items})


@bp.post("/leads/<id:lead_id>/link")
@require(Role.admin)
@endpoint("Link a lead to the customer it became (线索转化 by hand): status converted", body=LinkBody,
          response=LeadOut)
def link_lead(lead_id: int, body: LinkBody) -> Any:
    with runtime().WriteSession.begin() as s:
        lead = _lead(s, lead_id)
        customer = s.get(Customer, body.customer_id)
        if customer is None or customer.corp_id != lead.corp_id:
            raise lead_writes.invalid("customer_id", f"no customer {body.customer_id} in this corp")
        lead_writes.edit(s, lead, {"customer_id": customer.id, "status": LeadStatus.converted.value}, None, actor())
        audit(s, "lead.link", f"lead:{lead.id}", customer_id=customer.id)
        return jsonify(_one(s, lead))


EXPORT_HEADER = ["ID", "姓名", "手机号", "性别", "公司", "职位", "来源渠道", "状态", "跟进人", "创建人", "最新跟进时间",
                 "未跟进天数", "创建时间"]
GENDER_WORDS = {"male": "男", "female": "女", "": ""}


def _export_lines(s: Session, rows: list[Lead]) -> list[list[Any]]:
    zone = ZoneInfo(runtime().settings.timezone)
    now = utcnow()
    return [[r.id, r.name, r.mobile, GENDER_WORDS.get(r.gender, ""), r.company, r.position, r.source, r.status,
             r.owner_userid or "", r.creator, local(r.last_followed_at, zone), _days(r, now),
             local(r.created_at, zone)] for r in rows]


@bp.get("/leads/export")
@require(Role.admin)
@endpoint("Leads as CSV (UTF-8 with BOM), streamed: the list's filters", query=LeadFilters, response=str)
def export_leads(query: LeadFilters) -> Any:
    return _export("lead", lead_rows(query), EXPORT_HEADER, _export_lines, query)
