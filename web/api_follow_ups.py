"""Follow-up records (跟进记录, 004 §4.1.3) over the admin API, written through
models.followup.record_follow_up, the function the bot's /跟进 uses. Scope: web/sales_scope.py. Every write
is in the audit log."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, jsonify

from models import FollowUp, Role
from models.db import utcnow
from models.followup import record_follow_up
from web import errors
from web.api import page_rows
from web.auth import require
from web.endpoint import endpoint
from web.schemas.common import Page
from web.schemas.sales import FollowUpBody, FollowUpOut, FollowUpQuery
from web.sales_scope import actor, customer_rows, member_userid, runtime, visible_customer, visible_row

bp = Blueprint("api_follow_ups", __name__, url_prefix="/api/v1")
errors.register(bp)


# -- follow-ups ---------------------------------------------------------------------------------------------
def _follow_up_json(f: FollowUp) -> dict[str, Any]:
    return {"id": f.id, "corp_id": f.corp_id, "customer_id": f.customer_id, "userid": f.userid, "text": f.text,
            "at": f.at.isoformat(), "via": f.via}


@bp.get("/follow-ups")
@require(Role.member)
@endpoint("Follow-up records (跟进记录) of the customers the caller may see, newest first", query=FollowUpQuery,
          response=Page[FollowUpOut])
def list_follow_ups(query: FollowUpQuery) -> Any:
    rows = customer_rows(FollowUp, query.customer_id)
    if query.userid:
        rows = rows.where(FollowUp.userid == query.userid)
    if query.since:
        rows = rows.where(FollowUp.at >= query.since)
    if query.until:
        rows = rows.where(FollowUp.at < query.until)
    rows = rows.order_by(FollowUp.at.desc(), FollowUp.id.desc())
    return page_rows(rows, lambda s, page: [_follow_up_json(f) for f in page], query)


@bp.get("/follow-ups/<id:follow_up_id>")
@require(Role.member)
@endpoint("One follow-up record", response=FollowUpOut)
def get_follow_up(follow_up_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_follow_up_json(visible_row(s, FollowUp, follow_up_id, "follow-up")))


@bp.post("/follow-ups")
@require(Role.member)
@endpoint("Record a follow-up on a customer: on its timeline, and its last follow-up time moves",
          body=FollowUpBody, response=FollowUpOut, status=201)
def create_follow_up(body: FollowUpBody) -> Any:
    with runtime().WriteSession.begin() as s:
        customer = visible_customer(s, body.customer_id)
        userid = member_userid(body.userid, "follow-ups")
        row = record_follow_up(s, customer, userid, body.text, at=body.at or utcnow(), via="api",
                               source=f"api:{uuid.uuid4().hex}", actor=actor())
        return jsonify(_follow_up_json(row)), 201
