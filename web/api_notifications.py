"""The notifications log (通知, 004 §9.13): every app message the service sent to staff (jobs/app_messages.py
`sent_to_staff` writes it), with its category, recipients, status and WeCom's answer. Admins see their
corp's; a member sees the messages sent to them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g
from sqlalchemy import select

from models import NotificationLog, Role
from web import errors
from web.api import _like, page, time_filter
from web.auth import require
from web.endpoint import endpoint
from web.schemas.common import Page
from web.schemas.operations import NotificationOut, NotificationQuery

bp = Blueprint("api_notifications", __name__, url_prefix="/api/v1")
errors.register(bp)


def _json(n: NotificationLog) -> dict[str, Any]:
    return {"id": n.id, "corp_id": n.corp_id, "category": n.category,
            "recipients": [u for u in n.recipients.split("|") if u], "parties": list(n.parties),
            "msgtype": n.msgtype, "status": n.status, "errcode": n.errcode, "errmsg": n.errmsg, "msgid": n.msgid,
            "invalid_users": list(n.invalid_users), "unlicensed_users": list(n.unlicensed_users),
            "outbox_id": n.outbox_id, "created_at": n.created_at.isoformat()}


def _recipient(userid: str) -> Any:
    return NotificationLog.recipients.like(_like(f"|{userid}|"), escape="\\")


@bp.get("/notifications")
@require(Role.member)
@endpoint("App messages sent to staff, newest first, with WeCom's answer (a member: those sent to them)",
          query=NotificationQuery, response=Page[NotificationOut])
def list_notifications(query: NotificationQuery) -> Any:
    rows = select(NotificationLog).order_by(NotificationLog.id.desc())
    principal = g.principal
    if principal.corp_id:
        rows = rows.where(NotificationLog.corp_id == principal.corp_id)
    if principal.is_member:
        rows = rows.where(_recipient(principal.userid))
    if query.recipient:
        rows = rows.where(_recipient(query.recipient))
    if query.category:
        rows = rows.where(NotificationLog.category == query.category)
    if query.status:
        rows = rows.where(NotificationLog.status == query.status)
    return page(time_filter(rows, NotificationLog.created_at, query), _json, query)
