"""Follow-up records (跟进记录, 004 §4.1.3) and the corp's follow-up types (9.12) over the admin API. Records
are written through models.followup.record_follow_up, the function the bot's /跟进 uses. Scope:
web/sales_scope.py. Every write is in the audit log."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import FollowUp, FollowUpType, Role
from models.db import utcnow
from models.followup import follow_up_types, record_follow_up
from web import errors
from web.api import page_rows
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import CorpQuery, Deleted, Items, Page
from web.schemas.sales import FollowUpBody, FollowUpOut, FollowUpQuery, FollowUpTypeBody, FollowUpTypeOut
from web.sales_scope import actor, customer_rows, member_userid, runtime, visible_customer, visible_row
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_follow_ups", __name__, url_prefix="/api/v1")
errors.register(bp)


# -- follow-ups ---------------------------------------------------------------------------------------------
def _render(s: Session, rows: list[FollowUp]) -> list[dict[str, Any]]:
    """A page of follow-ups with their types' names (one query for the page)."""
    type_ids = {f.type_id for f in rows if f.type_id is not None}
    names: dict[int | None, str] = dict(s.execute(select(FollowUpType.id, FollowUpType.name).where(
        FollowUpType.id.in_(type_ids))).all()) if type_ids else {}
    return [{"id": f.id, "corp_id": f.corp_id, "customer_id": f.customer_id, "userid": f.userid, "text": f.text,
             "at": f.at.isoformat(), "via": f.via, "type_id": f.type_id, "type": names.get(f.type_id, "")}
            for f in rows]


@bp.get("/follow-ups")
@require(Role.member)
@endpoint("Follow-up records (跟进记录) of the customers the caller may see, newest first", query=FollowUpQuery,
          response=Page[FollowUpOut])
def list_follow_ups(query: FollowUpQuery) -> Any:
    rows = customer_rows(FollowUp, query.customer_id)
    if query.userid:
        rows = rows.where(FollowUp.userid == query.userid)
    if query.type_id is not None:
        rows = rows.where(FollowUp.type_id == query.type_id)
    if query.since:
        rows = rows.where(FollowUp.at >= query.since)
    if query.until:
        rows = rows.where(FollowUp.at < query.until)
    rows = rows.order_by(FollowUp.at.desc(), FollowUp.id.desc())
    return page_rows(rows, _render, query)


@bp.get("/follow-ups/<id:follow_up_id>")
@require(Role.member)
@endpoint("One follow-up record", response=FollowUpOut)
def get_follow_up(follow_up_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_render(s, [visible_row(s, FollowUp, follow_up_id, "follow-up")])[0])


@bp.post("/follow-ups")
@require(Role.member)
@endpoint("Record a follow-up on a customer: on its timeline, and its last follow-up time moves",
          body=FollowUpBody, response=FollowUpOut, status=201)
def create_follow_up(body: FollowUpBody) -> Any:
    return jsonify(add_follow_up(body)), 201


def add_follow_up(body: FollowUpBody) -> dict[str, Any]:
    """Record a follow-up on a customer the caller may see, as the caller (a member: themselves); the admin
    API and the sidebar (web/sidebar/customer_api.py) both come here."""
    via = "sidebar" if g.principal.via == "sidebar" else "api"
    with runtime().WriteSession.begin() as s:
        customer = visible_customer(s, body.customer_id)
        userid = member_userid(body.userid, "follow-ups")
        kind = None
        if body.type_id is not None:
            kind = s.get(FollowUpType, body.type_id)
            if kind is None or kind.corp_id != customer.corp_id:
                raise ApiError(422, "invalid", f"type_id: no follow-up type {body.type_id} in this corp",
                               {"type_id": "unknown follow-up type"})
        row = record_follow_up(s, customer, userid, body.text, at=body.at or utcnow(), via=via,
                               source=f"{via}:{uuid.uuid4().hex}", actor=actor(), kind=kind)
        return _render(s, [row])[0]


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
