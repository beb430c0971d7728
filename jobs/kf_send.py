"""The calls a customer-service session makes to WeCom: the bot's answer (kf/send_msg), the welcome
(send_msg_on_event), the hand-over (service_state/trans) and the end (trans 3 → 4, then the end message).

Kept apart from the sync (jobs/kf.py). WeCom's table of moves (doc 94669) decides what each may do: the API
ends a session only from 3 (a person receives it); a session in 0/1/2 is left to lapse, which WeCom does by
itself 48 h after the customer's last message (handlers/kf_sessions.py `end_session`). So no call here ever
marks ended a session that WeCom still holds open.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.moderation import store_message
from jobs.kf_attachments import attachment_rows, kf_message
from jobs.outbound import EffectContext, effect
from jobs.queue import FinalError
from models import KfSession, Message
from models.conversation import MessageOrigin, MessageSource
from models.db import utcnow
from models.kf import SessionState
from rules.kf import answer_msgid, reply_refusal
from wecom.client import WeComError

log = logging.getLogger(__name__)

NOT_ALLOWED = 95016  # service_state/trans: the table does not list this move from WeCom's current state
SESSION_ENDED = 95013  # the session ended in WeCom (a receptionist ended it, or it lapsed after 48 h)


def _store_sent(s: Session, ctx: EffectContext, session_pk: int, msgid: str, content: str,
                msgtype: str = "text", open_kfid: str = "", external_userid: str = "") -> dict[str, Any]:
    """Our own message into the conversation: sync_msg never returns what the API sent. The account and
    customer are looked up from the session unless the caller has them."""
    if not open_kfid:
        session = s.get_one(KfSession, session_pk)
        open_kfid, external_userid = session.open_kfid, session.external_userid
    store_message(s, Message(corp_id=ctx.corp_id, source=MessageSource.kf.value, msgid=msgid,
                             open_kfid=open_kfid, external_userid=external_userid,
                             origin=MessageOrigin.bot.value, msgtype=msgtype, content=content, raw={},
                             send_time=utcnow(), session_pk=session_pk), later=True)
    return {"msgid": msgid}


def _trans(ctx: EffectContext, open_kfid: str, external_userid: str, state: int, servicer: str = "") -> str:
    """service_state/trans; the msg_code it returns ("" when none). WeComError as WeCom answered."""
    data = {"open_kfid": open_kfid, "external_userid": external_userid, "service_state": state}
    if servicer:
        data["servicer_userid"] = servicer
    return str(ctx.client.post("kf/service_state/trans", data=data).get("msg_code") or "")


def _ended_in_wecom(s: Session, session_pk: int) -> dict[str, Any]:
    """WeCom answered 95013: its session is over (a lapse after 48 h, or a receptionist ended it)."""
    session = s.get_one(KfSession, session_pk)
    if session.state != SessionState.ended.value:
        session.state, session.ended_at = SessionState.ended.value, utcnow()
        session.end_reason = session.end_reason or "wecom"
    return {"moved": False, "ended": True}


def _replies_since_customer(s: Session, corp_id: str, open_kfid: str,
                            external_userid: str) -> tuple[dt.datetime | None, int]:
    """(the customer's last message to the account, our API messages to them since)."""
    conversation = (Message.corp_id == corp_id, Message.source == MessageSource.kf.value,
                    Message.open_kfid == open_kfid, Message.external_userid == external_userid)
    last = s.scalar(select(func.max(Message.send_time)).where(*conversation,
                                                              Message.origin == MessageOrigin.customer.value))
    if last is None:
        return None, 0
    sent = s.scalar(select(func.count()).select_from(Message).where(
        *conversation, Message.origin == MessageOrigin.bot.value, Message.send_time >= last)) or 0
    return last, int(sent)


@effect("kf_send_text")
def kf_send_text(ctx: EffectContext, session_pk: int, open_kfid: str, external_userid: str, content: str,
                 msgid: str, attachments: list[int] | None = None) -> dict[str, Any] | None:
    """A bot answer (or a lapsing session's last word): kf/send_msg, whether WeCom has the session as 未处理
    (0) or 智能助手接待 (1), then each of the answer's attachments (material ids; jobs/kf_attachments.py) as
    a message of its own msgtype. `msgid` is ours (rules/kf.py `answer_msgid`), and each attachment's is made
    from it: a retry sends the same ones, and one already stored as sent is not sent again.

    A new session is not moved to state 1 first: WeCom lists answering through the API as the first
    thing to do with a state-0 session, and every move out of 0 that we make later (to the queue, to a
    person) is allowed from 0 as from 1. The move would cost a second WeCom call on every new customer's
    first answer, in front of that answer. Our own row says `bot` either way.

    WeCom's budget (5 messages per customer message, within 48 h) is checked before each message, the
    attachments counting like the text: a text past it is refused here with the reason (FinalError: the
    row fails and is dead-lettered), never sent; attachments past it are not sent, and the result lists
    each with the reason."""
    materials = attachment_rows(ctx, list(attachments)) if attachments else []
    messages: list[tuple[str, Any, str]] = [(msgid, None, content)]
    messages += [(answer_msgid(ctx.corp_id, open_kfid, f"{msgid}/{m.id}"), m, m.title or m.filename or m.kind)
                 for m in materials]
    with ctx.runtime.Session() as s:
        last, sent = _replies_since_customer(s, ctx.corp_id, open_kfid, external_userid)
        done = set(s.scalars(select(Message.msgid).where(
            Message.corp_id == ctx.corp_id, Message.source == MessageSource.kf.value,
            Message.msgid.in_([one for one, _, _ in messages])))) if materials else set()
    outcome: dict[str, Any] = {"msgid": msgid, "sent": [], "refused": []}
    unstored: list[tuple[str, str, str]] = []
    for one, material, label in messages:
        if one in done:
            continue
        refusal = reply_refusal(last, sent, utcnow())
        if refusal and material is None:
            raise FinalError(f"kf/send_msg not sent: {refusal}")
        made = refusal or (("text", {"content": content}) if material is None else kf_message(ctx, material))
        if isinstance(made, str):
            why = made
            log.info("kf attachment %s of answer %s not sent: %s", material.id, msgid, why)
            outcome["refused"].append({"material": material.id, "reason": why})
            continue
        if unstored:  # a retry after a later message fails must not send this one again
            with ctx.runtime.WriteSession.begin() as s:
                _store_sent(s, ctx, session_pk, *unstored.pop(), open_kfid, external_userid)
        msgtype, obj = made
        ctx.client.post("kf/send_msg", data={"touser": external_userid, "open_kfid": open_kfid, "msgid": one,
                                             "msgtype": msgtype, msgtype: obj})
        unstored.append((one, label, msgtype))
        sent += 1
        outcome["sent"].append(one)

    def write(s: Session) -> dict[str, Any]:
        for one, label, msgtype in unstored:
            _store_sent(s, ctx, session_pk, one, label, msgtype, open_kfid, external_userid)
        return outcome

    return ctx.finish(write)


@effect("kf_welcome")
def kf_welcome(ctx: EffectContext, session_pk: int, code: str, content: str, deadline: str) -> dict[str, Any] | None:
    """The enter_session welcome through send_msg_on_event, only while its code lives (20 s)."""
    if utcnow() > dt.datetime.fromisoformat(deadline):
        return ctx.finish(lambda s: {"welcome": "missed"})
    result = ctx.client.post("kf/send_msg_on_event", data={"code": code, "msgtype": "text",
                                                           "text": {"content": content}})
    return ctx.finish(lambda s: {"welcome": "sent", **_store_sent(s, ctx, session_pk, str(result["msgid"]), content)})


@effect("kf_trans")
def kf_trans(ctx: EffectContext, session_pk: int, open_kfid: str, external_userid: str, service_state: int,
             servicer_userid: str) -> dict[str, Any] | None:
    """Hand-over: to a receptionist (3) or the queue (2). 95013: WeCom's session is over, so is ours. 95016:
    WeCom has the session somewhere this move does not start from (a receptionist took it from the queue in
    the WeCom client, say); the session_status_change event that moved it tells us where."""
    try:
        _trans(ctx, open_kfid, external_userid, service_state, servicer_userid)
    except WeComError as exc:
        if exc.errcode == SESSION_ENDED:
            return ctx.finish(lambda s: _ended_in_wecom(s, session_pk))
        if exc.errcode != NOT_ALLOWED:
            raise
        log.info("kf hand-over of session %s to state %s: WeCom has it elsewhere (95016)", session_pk, service_state)
        return ctx.finish(lambda s: {"service_state": service_state, "moved": False})
    return ctx.finish(lambda s: {"service_state": service_state, "moved": True})


@effect("kf_end")
def kf_end(ctx: EffectContext, session_pk: int, content: str) -> dict[str, Any] | None:
    """End a session a person receives: WeCom state 3 → 4, then the end message with the msg_code the move
    returned (20 s). The code is kept on the session before it is used, so a re-run does not try to end the
    session twice. If WeCom no longer has the session at 3 (95016: not ours to end), it stays open in WeCom,
    so ours is `lapsing` until WeCom ends it; 95013: it had ended already."""
    with ctx.runtime.Session() as s:
        session = s.get(KfSession, session_pk)
        code, open_kfid, external_userid = session.end_msg_code, session.open_kfid, session.external_userid
    if code is None:
        try:
            code = _trans(ctx, open_kfid, external_userid, 4)
        except WeComError as exc:
            if exc.errcode == SESSION_ENDED:
                return ctx.finish(lambda s: {"ended": True, "end_message": False})
            if exc.errcode != NOT_ALLOWED:
                raise
            return ctx.finish(lambda s: _still_open(s, session_pk))
        with ctx.runtime.WriteSession.begin() as s:
            s.get(KfSession, session_pk).end_msg_code = code
    if not code or not content:
        return ctx.finish(lambda s: {"ended": True, "end_message": False})
    try:
        result = ctx.client.post("kf/send_msg_on_event", data={"code": code, "msgtype": "text",
                                                               "text": {"content": content}})
    except WeComError as exc:
        if exc.retryable:
            raise
        errcode = exc.errcode
        log.info("kf end message not sent: errcode %s", errcode)
        return ctx.finish(lambda s: {"ended": True, "end_message": False, "errcode": errcode})
    return ctx.finish(lambda s: {"ended": True, "end_message": True,
                                 **_store_sent(s, ctx, session_pk, str(result["msgid"]), content)})


def _still_open(s: Session, session_pk: int) -> dict[str, Any]:
    """WeCom refused to end the session (95016): it holds it open, so ours lapses with it instead of ending."""
    session = s.get_one(KfSession, session_pk)
    if session.state == SessionState.ended.value:
        session.state, session.ended_at = SessionState.lapsing.value, None
    log.info("kf session %s: WeCom does not hold it at state 3, so it lapses instead of ending", session_pk)
    return {"ended": False, "lapsing": True}
