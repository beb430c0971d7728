"""Follow-up records (跟进记录, 004 §4.1.3) and the corp's follow-up types (9.12) over the admin API. Records
are written through models.followup.record_follow_up, the function the bot's /跟进 uses; each is on exactly
one subject: a customer, a lead, a company, a contact or a customer group. Scope: web/org_scope.py. Every
write is in the audit log."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from handlers.smart_tags import on_write
from jobs.queue import enqueue_outbox
from models import Company, Contact, Customer, FollowUp, FollowUpType, Lead, Role
from models.db import utcnow
from models.followup import SUBJECT_COLUMNS, GroupRef, Subject, follow_up_types, record_follow_up
from web import errors
from web.api import page_rows
from web.api_follow_up_files import extras_for, links_of
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.group_scope import visible_group
from web.schemas.common import CorpQuery, Deleted, Items, Page
from web import org_scope
from web.org_scope import companies, contacts, leads, visible
from web.schemas.sales import (SUBJECTS, FollowUpBody, FollowUpFilters, FollowUpOut, FollowUpQuery, FollowUpTypeBody,
                               FollowUpTypeOut)
from web.sales_scope import actor, member_userid, runtime, visible_customer
from web.scope import check_corp, corp_and_app, in_scope

bp = Blueprint("api_follow_ups", __name__, url_prefix="/api/v1")
errors.register(bp)

SCOPE = ("A member sees and writes the follow-ups on the customers they follow, the leads they own, the companies "
         "they own or that have a customer they follow, the contacts they own or of those companies or linked to "
         "a customer they follow, and their own follow-ups on customer groups; any other is a 404, by id and "
         "when named as a filter.")


# -- follow-ups ---------------------------------------------------------------------------------------------
def _render(s: Session, rows: list[FollowUp]) -> list[dict[str, Any]]:
    """A page of follow-ups with their types' names, attachments and reminders (three queries for the page)."""
    type_ids = {f.type_id for f in rows if f.type_id is not None}
    names: dict[int | None, str] = dict(s.execute(select(FollowUpType.id, FollowUpType.name).where(
        FollowUpType.id.in_(type_ids))).all()) if type_ids else {}
    links = links_of(s, [f.id for f in rows])
    return [{"id": f.id, "corp_id": f.corp_id, **{c: getattr(f, c) for c in SUBJECT_COLUMNS}, "userid": f.userid,
             "text": f.text, "at": f.at.isoformat(), "via": f.via, "type_id": f.type_id,
             "type": names.get(f.type_id, ""), **links[f.id]} for f in rows]


def _subject(s: Session, column: str, key: Any, corp_id: str | None) -> Subject:
    """The subject `column` = `key` names, if this token may see it (else a 404)."""
    if column == "customer_id":
        return visible_customer(s, key)
    if column == "group_chat_id":
        group = visible_group(s, key)
        if corp_id is not None and group.corp_id != corp_id:
            raise ApiError(404, "not_found", f"no group {key}")
        return GroupRef(group.corp_id, group.chat_id)
    query, model, what = {"lead_id": (leads(), Lead, "lead"), "company_id": (companies(), Company, "company"),
                          "contact_id": (contacts(), Contact, "contact")}[column]
    found: Subject = visible(s, query, model, key, what)
    return found


@bp.get("/follow-ups")
@require(Role.member)
@endpoint("Follow-up records (跟进记录) on the subjects the caller may see (web/org_scope.py), newest first",
          query=FollowUpQuery, response=Page[FollowUpOut], description=SCOPE)
def list_follow_ups(query: FollowUpQuery) -> Any:
    return page_rows(follow_up_rows(query), _render, query)


def follow_up_rows(filters: FollowUpFilters) -> Select:
    """The records `filters` ask for among those this token may see, newest first (the list, the export); a
    subject named that the token may not see is a 404, as by id."""
    rows = org_scope.follow_up_rows()
    with runtime().Session() as s:
        for column in SUBJECT_COLUMNS:
            key = getattr(filters, column)
            if key is not None:
                _subject(s, column, key, None)
                rows = rows.where(getattr(FollowUp, column) == key)
    if filters.userid:
        rows = rows.where(FollowUp.userid == filters.userid)
    if filters.type_id is not None:
        rows = rows.where(FollowUp.type_id == filters.type_id)
    if filters.since:
        rows = rows.where(FollowUp.at >= filters.since)
    if filters.until:
        rows = rows.where(FollowUp.at < filters.until)
    return rows.order_by(FollowUp.at.desc(), FollowUp.id.desc())


@bp.get("/follow-ups/<id:follow_up_id>")
@require(Role.member)
@endpoint("One follow-up record", response=FollowUpOut, description=SCOPE)
def get_follow_up(follow_up_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_render(s, [visible(s, org_scope.follow_up_rows(), FollowUp, follow_up_id, "follow-up")])[0])


@bp.post("/follow-ups")
@require(Role.member)
@endpoint("Record a follow-up on exactly one subject (customer_id, lead_id, company_id, contact_id or "
          "group_chat_id; 422 otherwise). On a customer it is on its timeline; a customer's and a lead's last "
          "follow-up time moves. With an attachment and reminders (@colleagues at once, a time later) by app "
          "message", body=FollowUpBody, response=FollowUpOut, status=201, description=SCOPE)
def create_follow_up(body: FollowUpBody) -> Any:
    return jsonify(add_follow_up(body)), 201


def add_follow_up(body: FollowUpBody) -> dict[str, Any]:
    """Record a follow-up on the subject the body names, if the caller may see it, as the caller (a member:
    themselves); the admin API and the sidebar (web/sidebar/customer_api.py) both come here."""
    via = "sidebar" if g.principal.via == "sidebar" else "api"
    given = [c for c in SUBJECT_COLUMNS if getattr(body, c) is not None]
    if len(given) != 1:
        problem = f"exactly one of {SUBJECTS}"
        raise ApiError(422, "invalid", f"the subject: give {problem} (given: {', '.join(given) or 'none'})",
                       {c: problem for c in given or ["customer_id"]})
    check_corp(body.corp_id)
    with runtime().WriteSession.begin() as s:
        subject = _subject(s, given[0], getattr(body, given[0]), body.corp_id)
        userid = member_userid(body.userid, "follow-ups")
        kind = None
        if body.type_id is not None:
            kind = s.get(FollowUpType, body.type_id)
            if kind is None or kind.corp_id != subject.corp_id:
                raise ApiError(422, "invalid", f"type_id: no follow-up type {body.type_id} in this corp",
                               {"type_id": "unknown follow-up type"})
        extras = extras_for(s, subject, body)
        row = record_follow_up(s, subject, userid, body.text, at=body.at or utcnow(), via=via,
                               source=f"{via}:{uuid.uuid4().hex}", actor=actor(), kind=kind, extras=extras)
        if isinstance(subject, Customer):
            on_write(s, subject.corp_id, "follow_up", [subject.id])
        answer = _render(s, [row])[0]
    enqueue_outbox((o.id, o.queue) for o in extras.pending)  # after commit: a rolled-back record tells no one
    return answer


# -- types (9.12 跟进记录设置) -------------------------------------------------------------------------------
def _type_json(t: FollowUpType) -> dict[str, Any]:
    return {"id": t.id, "corp_id": t.corp_id, "name": t.name, "position": t.position}


@bp.get("/follow-up-types")
@require(Role.member)
@endpoint("The corp's follow-up types in order (the first, 笔记 unless renamed away, is the default)",
          query=CorpQuery, response=Items[FollowUpTypeOut])
def list_types(query: CorpQuery) -> Any:
    with runtime().WriteSession.begin() as s:  # a corp's first look makes its 笔记
        corp_id, _ = corp_and_app(s, query.corp_id)
        items = [_type_json(t) for t in follow_up_types(s, corp_id)]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/follow-up-types")
@require(Role.admin)
@endpoint("Add a follow-up type at the end of the corp's list (409: the name is taken)", body=FollowUpTypeBody,
          response=FollowUpTypeOut, status=201)
def create_type(body: FollowUpTypeBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        current = follow_up_types(s, corp_id)
        if any(t.name == body.name for t in current):
            raise ApiError(409, "conflict", f"the follow-up type {body.name} exists", {"name": "taken"})
        row = FollowUpType(corp_id=corp_id, name=body.name, position=current[-1].position + 1)
        s.add(row)
        s.flush()
        audit(s, "follow_up_type.create", f"follow_up_type:{row.id}", name=row.name)
        return jsonify(_type_json(row)), 201


@bp.delete("/follow-up-types/<id:type_id>")
@require(Role.admin)
@endpoint("Delete a follow-up type no record uses (409 says how many records use it)", response=Deleted)
def delete_type(type_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        row = s.get(FollowUpType, type_id)
        if row is None or not in_scope(row.corp_id):
            raise ApiError(404, "not_found", f"no follow-up type {type_id}")
        used = s.scalar(select(func.count()).where(FollowUp.type_id == row.id)) or 0
        if used:
            raise ApiError(409, "conflict", f"the follow-up type {row.name} is used by {used} follow-up records")
        s.delete(row)
        audit(s, "follow_up_type.delete", f"follow_up_type:{type_id}", name=row.name)
        return jsonify({"id": type_id, "deleted": True})
