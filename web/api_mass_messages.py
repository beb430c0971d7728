"""Mass messages (群发, 004 §5.1) over the admin API: `/mass-messages` (list, create as a draft, scheduled or
sent now, edit before sending, detail with per-sender status and the funnel), `/mass-messages/preview` (the
audience counted per sender, customers at the monthly cap counted), cancel (before sending: nothing reaches
WeCom; after: cancel_groupmsg_send), remind (remind_groupmsg_send), results (collected as a job) and
`/mass-message-settings` (the monthly cap per customer).

Who gets a message and through whom: web/mass_audience.py; WeCom's side: jobs/mass_send.py and
jobs/mass_results.py. Admins and super_admins only (a corp's mass message is not a member's); a token bound to
a corp sees and sends its corp's only, and the audience is read in the creator's scope. Every write is
audited."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from jobs.mass_results import cancel_tasks, remind
from jobs.progress import open_run
from jobs.queue import enqueue
from models import CorpSettings, Role
from models.db import get_or_create, utcnow
from models.mass_message import MassMessage, MassMessageSend, MassRecipient, MassStatus, RecipientStatus
from web import errors
from web.api import page_rows
from web.api_jobs import started
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.mass_audience import customer_ids, monthly_cap, plan
from web.sales_scope import actor, runtime
from web.schemas.common import CorpQuery, Page
from web.schemas.jobs import Started
from web.schemas.mass_messages import (CapSettingsBody, CapSettingsOut, MassMessageBody, MassMessageDetail,
                                       MassMessageListed, MassQuery, PreviewBody, PreviewOut, RemindOut)
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_mass_messages", __name__, url_prefix="/api/v1")
errors.register(bp)

EDITABLE = (MassStatus.draft.value, MassStatus.scheduled.value)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _json(m: MassMessage) -> dict[str, Any]:
    return {"id": m.id, "corp_id": m.corp_id, "chat_type": m.chat_type, "text": m.text,
            "attachments": m.attachments, "audience": m.audience, "status": m.status, "send_at": _iso(m.send_at),
            "sent_at": _iso(m.sent_at), "cancelled_at": _iso(m.cancelled_at), "results_at": _iso(m.results_at),
            "created_by": m.created_by, "created_at": _iso(m.created_at), "target_count": m.target_count,
            "capped_count": m.capped_count}


def _sender_status(statuses: set[str]) -> str:
    for status in ("unsent", "planned", "sent", "cancelled"):
        if status in statuses:
            return "unsent" if status == "planned" else status
    return "failed"


def _detail(s: Session, m: MassMessage) -> dict[str, Any]:
    counts = dict(s.execute(select(MassRecipient.status, func.count()).where(MassRecipient.message_id == m.id)
                            .group_by(MassRecipient.status)).all())
    delivered = dict(s.execute(select(MassRecipient.sender, func.count()).where(
        MassRecipient.message_id == m.id, MassRecipient.status == RecipientStatus.sent.value)
        .group_by(MassRecipient.sender)).all())
    senders: dict[str, list[MassMessageSend]] = {}
    for send in s.scalars(select(MassMessageSend).where(MassMessageSend.message_id == m.id)
                          .order_by(MassMessageSend.id)):
        senders.setdefault(send.sender, []).append(send)
    rows = [{"sender": sender, "status": _sender_status({x.status for x in sends}),
             "targets": sum(x.size for x in sends), "delivered": delivered.get(sender, 0),
             "msgids": [x.msgid for x in sends if x.msgid],
             "errcode": next((x.errcode for x in sends if x.errcode), None),
             "sent_at": _iso(max((x.sent_at for x in sends if x.sent_at), default=None)),
             "reminded_at": _iso(max((x.reminded_at for x in sends if x.reminded_at), default=None)),
             "remind_count": max(x.remind_count for x in sends)} for sender, sends in senders.items()]
    return _json(m) | {"counts": counts, "senders": rows,
                       "funnel": _funnel(m, counts.get(RecipientStatus.sent.value, 0))}


def _funnel(m: MassMessage, delivered: int) -> dict[str, Any]:
    """target → delivered; read and shared are null: WeCom reports neither for a mass message."""
    return {"target": m.target_count, "delivered": delivered, "read": None, "shared": None}


def _listed(s: Session, page: list[MassMessage]) -> list[dict[str, Any]]:
    """A page of messages, each with its funnel (one grouped count for the page: the dashboard's chart)."""
    delivered = dict(s.execute(select(MassRecipient.message_id, func.count()).where(
        MassRecipient.message_id.in_([m.id for m in page]), MassRecipient.status == RecipientStatus.sent.value)
        .group_by(MassRecipient.message_id)).all())
    return [_json(m) | {"funnel": _funnel(m, delivered.get(m.id, 0))} for m in page]


def _message(s: Session, message_id: int) -> MassMessage:
    m = s.get(MassMessage, message_id)
    if m is None or not in_scope(m.corp_id):
        raise ApiError(404, "not_found", f"no mass message {message_id}")
    return m


def _fill(s: Session, m: MassMessage, corp_id: str, body: MassMessageBody) -> bool:
    """Content, audience and schedule from `body` (the audience checked now: a bad tag or segment is a 422);
    returns whether it is due now."""
    customer_ids(s, corp_id, body.audience)
    now = utcnow()
    m.chat_type, m.text = body.chat_type, body.text
    m.attachments = [a.wecom() for a in body.attachments]
    m.audience = body.audience.model_dump(mode="json", exclude_none=True)
    m.principal = dataclasses.asdict(g.principal)
    m.status = MassStatus.draft.value if body.draft else MassStatus.scheduled.value
    due = max(body.send_at or now, now)
    m.send_at = None if body.draft else due
    return not body.draft and due <= now


@bp.get("/mass-messages")
@require(Role.admin)
@endpoint("Mass messages (群发), newest first", query=MassQuery, response=Page[MassMessageListed])
def list_messages(query: MassQuery) -> Any:
    rows = select(MassMessage).order_by(MassMessage.id.desc())
    corp = g.principal.corp_id or query.corp_id
    if corp:
        rows = rows.where(MassMessage.corp_id == corp)
    for column, value in ((MassMessage.chat_type, query.chat_type), (MassMessage.created_by, query.created_by),
                          (MassMessage.status, query.status.value if query.status else None)):
        if value:
            rows = rows.where(column == value)
    return page_rows(rows, _listed, query)


@bp.post("/mass-messages/preview")
@require(Role.admin)
@endpoint("Who a mass message would reach: customers (or groups) per sender; customers at the monthly cap and "
          "those no member follows, left out and counted", body=PreviewBody, response=PreviewOut)
def preview(body: PreviewBody) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        p = plan(s, corp_id, body.chat_type, body.audience, utcnow())
    return jsonify({"corp_id": corp_id, "target": p.target, "capped": len(p.capped), "no_sender": len(p.no_sender),
                    "monthly_cap": p.cap, "by_sender": [{"sender": k, "count": len(v)} for k, v in
                                                        sorted(p.by_sender.items())]})


@bp.post("/mass-messages")
@require(Role.admin)
@endpoint("Create a mass message: a draft, scheduled (send_at), or sent now through add_msg_template (members "
          "then confirm it in WeCom)", body=MassMessageBody, response=MassMessageDetail, status=201)
def create(body: MassMessageBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        m = MassMessage(corp_id=corp_id, app_pk=app_pk, created_by=actor())
        s.add(m)
        now = _fill(s, m, corp_id, body)
        s.flush()
        audit(s, "mass_message.create", f"mass_message:{m.id}", status=m.status, chat_type=m.chat_type)
        message_id = m.id
    if now:
        enqueue("mass_send", message_id)
    with runtime().Session() as s:
        return jsonify(_detail(s, _message(s, message_id))), 201


@bp.get("/mass-messages/<id:message_id>")
@require(Role.admin)
@endpoint("One mass message: recipients by status, each sender's task (unsent, sent, failed) and the funnel",
          response=MassMessageDetail)
def get_message(message_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_detail(s, _message(s, message_id)))


@bp.put("/mass-messages/<id:message_id>")
@require(Role.admin)
@endpoint("Edit a draft or scheduled mass message (409 once it is being sent)", body=MassMessageBody,
          response=MassMessageDetail)
def edit(message_id: int, body: MassMessageBody) -> Any:
    with runtime().WriteSession.begin() as s:
        m = _message(s, message_id)
        s.refresh(m, with_for_update=True)
        if m.status not in EDITABLE or (body.corp_id and body.corp_id != m.corp_id):
            raise ApiError(409, "conflict", f"mass message {message_id} is {m.status}: only drafts and scheduled "
                                            "messages of its corp can be edited")
        now = _fill(s, m, m.corp_id, body)
        audit(s, "mass_message.update", f"mass_message:{m.id}", status=m.status)
    if now:
        enqueue("mass_send", message_id)
    with runtime().Session() as s:
        return jsonify(_detail(s, _message(s, message_id)))


@bp.post("/mass-messages/<id:message_id>/cancel")
@require(Role.admin)
@endpoint("Cancel a mass message: a draft or scheduled one here (nothing reaches WeCom); a sent one through "
          "cancel_groupmsg_send for the members who have not sent it", response=MassMessageDetail)
def cancel(message_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        status = _message(s, message_id).status
        audit(s, "mass_message.cancel", f"mass_message:{message_id}", status=status)
        done = s.execute(update(MassMessage).where(MassMessage.id == message_id, MassMessage.status.in_(EDITABLE))
                         .values(status=MassStatus.cancelled.value, cancelled_at=utcnow())).rowcount
    if not done:
        if status != MassStatus.sent.value:
            raise ApiError(409, "conflict", f"mass message {message_id} is {status}")
        cancel_tasks(runtime(), message_id)
        with runtime().WriteSession.begin() as s:
            s.execute(update(MassMessage).where(MassMessage.id == message_id).values(
                status=MassStatus.cancelled.value, cancelled_at=utcnow()))
    with runtime().Session() as s:
        return jsonify(_detail(s, _message(s, message_id)))


@bp.post("/mass-messages/<id:message_id>/remind")
@require(Role.admin)
@endpoint("Remind the members who have not sent a mass message (remind_groupmsg_send; WeCom allows three "
          "reminders per message in 24 h)", response=RemindOut)
def remind_members(message_id: int) -> Any:
    with runtime().Session() as s:
        status = _message(s, message_id).status
    if status != MassStatus.sent.value:
        raise ApiError(409, "conflict", f"mass message {message_id} is {status}: nothing to remind of")
    reminded, refused = remind(runtime(), message_id)
    with runtime().WriteSession.begin() as s:
        audit(s, "mass_message.remind", f"mass_message:{message_id}", reminded=reminded, refused=refused)
    return jsonify({"reminded": reminded, "refused": refused})


@bp.post("/mass-messages/<id:message_id>/results")
@require(Role.admin)
@endpoint("Collect a mass message's results from WeCom now (get_groupmsg_list_v2, get_groupmsg_task, "
          "get_groupmsg_send_result), as a job", response=Started, status=202)
def collect_results(message_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        m = _message(s, message_id)
        if m.status not in (MassStatus.sent.value, MassStatus.cancelled.value):
            raise ApiError(409, "conflict", f"mass message {message_id} is {m.status}: not sent")
        job_id = open_run(s, "mass_results", m.corp_id, actor(), message_id=message_id).id
        audit(s, "mass_message.results", f"mass_message:{message_id}", job=job_id)
    enqueue("mass_results", job_id, message_id)
    return started(job_id)


@bp.get("/mass-message-settings")
@require(Role.admin)
@endpoint("The corp's monthly cap: mass messages a customer receives per month at most", query=CorpQuery,
          response=CapSettingsOut)
def get_settings(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        return jsonify({"corp_id": corp_id, "monthly_cap": monthly_cap(s, corp_id)})


@bp.put("/mass-message-settings")
@require(Role.admin)
@endpoint("Set the monthly cap per customer (WeCom's corp-initiated limit was 4)", body=CapSettingsBody,
          response=CapSettingsOut)
def put_settings(body: CapSettingsBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        settings, _ = get_or_create(s, CorpSettings, {"corp_id": corp_id})
        settings.mass_monthly_cap = body.monthly_cap
        audit(s, "mass_message_settings.update", f"corp:{corp_id}", monthly_cap=body.monthly_cap)
    return jsonify({"corp_id": corp_id, "monthly_cap": body.monthly_cap})
