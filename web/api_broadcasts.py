"""Staff broadcasts (员工群发, manual 9.5): an app message (message/send) to staff and departments, from a
broadcast template or given as msgtype and body (text, markdown, textcard, news, miniprogram_notice; an
uploaded image, voice, video or file: web/api_broadcast_files.py), sent now (202) or at `send_at`
(scheduled: the cron job jobs/broadcasts.py sends each due one exactly once). `GET /broadcasts/<id>` shows
what WeCom answered.
WeCom gives no read statistics for app messages (message/send answers only who it refused; message/
get_statistics counts an app's sends per day, not reads), so none are shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.moderation import plan_staff_message
from models import Role
from models.corp import messaging_app
from models.db import utcnow
from models.moderation import Broadcast, BroadcastStatus, MessageTemplate
from rules import templates
from web import errors
from web.api import _runtime, page
from web.api_kf import _scoped
from web.api_moderation import _invalid, _mine
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import Page
from web.schemas.moderation import BroadcastIn, BroadcastOut, BroadcastQuery
from web.scope import corp_and_app

bp = Blueprint("api_broadcasts", __name__, url_prefix="/api/v1")
errors.register(bp)


def _recipients(userids: list[str], departments: list[int]) -> tuple[list[str], list[int]]:
    if not userids and not departments:
        _invalid({"userids": "name at least one staff member or department"}, "broadcast")
    return list(dict.fromkeys(userids)), list(dict.fromkeys(departments))


def _content(s: Session, corp_id: str, body: BroadcastIn) -> tuple[int | None, dict[str, str], str, dict[str, Any]]:
    """(template pk, values, msgtype, rendered body): from an enabled broadcast template and its values,
    or given as msgtype and body without variables."""
    if body.template_id is not None:
        template_pk = body.template_id
        template = s.get(MessageTemplate, template_pk)
        if template is None or template.deleted_at is not None or template.corp_id != corp_id \
                or template.category != templates.BROADCAST or not template.enabled:
            raise ApiError(422, "invalid", "the broadcast has errors",
                           {"template_id": "an enabled broadcast template of this corp"})
        values = body.values
        _invalid(templates.value_errors(list(template.variables), values), "broadcast")
        msgtype, content = template.msgtype, templates.render(template.msgtype, template.body, values)
    else:
        template_pk, values, msgtype, content = None, {}, body.msgtype, body.body  # type: ignore[assignment]  # None is checked by template_errors
        _invalid(templates.template_errors(templates.BROADCAST, msgtype, content, []), "broadcast")
    _invalid(templates.body_errors(msgtype, content, rendered=True), "broadcast")
    return template_pk, values, msgtype, content


@bp.get("/broadcasts")
@require(Role.admin)
@endpoint("Staff broadcasts with WeCom's delivery result", query=BroadcastQuery, response=Page[BroadcastOut])
def list_broadcasts(query: BroadcastQuery) -> Any:
    """§9.5: newest first; by state and creator."""
    rows = _scoped(select(Broadcast), Broadcast.corp_id)
    if query.status:
        rows = rows.where(Broadcast.status == query.status)
    if query.created_by:
        rows = rows.where(Broadcast.created_by == query.created_by)
    return page(rows.order_by(Broadcast.created_at.desc(), Broadcast.id.desc()), Broadcast.public, query)


@bp.post("/broadcasts")
@require(Role.admin)
@endpoint("Send an app message to staff now or at send_at (202: message/send)", body=BroadcastIn,
          response=BroadcastOut, status=202)
def create_broadcast(body: BroadcastIn) -> Any:
    """Send an app message to staff now, or schedule it for `send_at` (202); WeCom's answer lands on the
    broadcast."""
    return save_broadcast(body.corp_id, body.name, body.userids, body.departments, body.send_at,
                          lambda s, corp_id: _content(s, corp_id, body))


Content = Callable[[Session, str], tuple[int | None, dict[str, str], str, dict[str, Any]]]


def save_broadcast(corp_param: str | None, name: str, userids: list[str], departments: list[int],
                   send_at: dt.datetime | None, content: Content, on_failure: Callable[[], None] = lambda: None) -> Any:
    """Store a broadcast and plan its message/send now, or leave it scheduled for `send_at` (202 with the
    broadcast). `content(session, corp_id)` gives (template pk, values, msgtype, body); `on_failure` undoes
    what the caller made before (an uploaded file) when nothing is stored."""
    scheduled = send_at is not None and send_at > utcnow()
    try:
        userids, parties = _recipients(userids, departments)
        with _runtime().WriteSession.begin() as s:
            corp_id, _ = corp_and_app(s, corp_param)
            template_pk, values, msgtype, body = content(s, corp_id)
            app = messaging_app(s, corp_id)
            if app is None:
                raise ApiError(409, "conflict", f"corp {corp_id} has no app with an agentid to send app messages")
            row = Broadcast(corp_id=corp_id, app_pk=app[0], name=name, template_pk=template_pk,
                            template_values=values, userids=userids, departments=parties, msgtype=msgtype, body=body,
                            created_by=g.principal.name, send_at=send_at if scheduled else None,
                            status=(BroadcastStatus.scheduled if scheduled else BroadcastStatus.pending).value)
            s.add(row)
            s.flush()
            if not scheduled:
                plan_staff_message(s, corp_id, f"broadcast:{row.id}", msgtype, body, userids, parties,
                                   broadcast_pk=row.id, app=app)
            audit(s, "broadcast.create", f"broadcast:{row.id}", name=name, userids=userids, departments=parties,
                  msgtype=msgtype, send_at=send_at.isoformat() if scheduled and send_at else None)
            broadcast_pk = row.id
    except Exception:
        on_failure()
        raise
    with _runtime().Session() as s:
        return jsonify(s.get_one(Broadcast, broadcast_pk).public()), 202


@bp.get("/broadcasts/<id:broadcast_pk>")
@require(Role.admin)
@endpoint("One broadcast: status, msgid, invalid users and departments", response=BroadcastOut)
def get_broadcast(broadcast_pk: int) -> Any:
    with _runtime().Session() as s:
        return jsonify(_mine(s.get(Broadcast, broadcast_pk), "broadcast", broadcast_pk).public())
