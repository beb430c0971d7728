"""What happens to a customer-service session as a whole: a person takes it (hand-over, the queue), it ends
or lapses, and the minute sweep (silence, sessions WeCom has let lapse).

WeCom's table of service_state moves (doc 94669) lets the API end a session only from 3 (a person receives
it): 0 → 1/2/3, 1 → 2/3, 2 → 3, 3 → 3/4. A session in 0, 1 or 2 that should end (closing words, silence) is
therefore left to lapse, which WeCom documents: a session lasts 48 h after the customer writes, or until it
is ended. Ours is `lapsing` meanwhile (not `ended`: WeCom still holds it open, a receptionist may still take
it from the queue, and the customer's next message continues it), and becomes `ended` once the 48 h are up.
A bot session gets the end message through send_msg, which WeCom allows in 0 and 1.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from handlers.registry import HandlerContext
from models import KfAccount, KfServicer, KfSession, KfSettings
from models.db import get_or_create, utcnow
from models.kf import ServicerStatus, SessionState
from rules.kf import Candidate, answer_msgid, choose_receptionist

FAST = "welcome"
"""Session calls go on the fast queue workers take first: a customer is waiting in the chat, and the end
message's msg_code, like the welcome_code, dies 20 s after the move (docs/PROTOCOL.md §4)."""

ACTIVE_STATES = (SessionState.new.value, SessionState.bot.value, SessionState.queue.value, SessionState.human.value)
"""Sessions that are being served: the silence sweep looks at these."""
OPEN_STATES = (*ACTIVE_STATES, SessionState.lapsing.value)
"""Sessions WeCom holds open: a message of the customer belongs to these."""

WECOM_LAPSE = dt.timedelta(hours=48)
"""WeCom ends a session by itself 48 h after the customer's last message (doc 94669)."""


def kf_settings(ctx: HandlerContext) -> KfSettings:
    return get_or_create(ctx.session, KfSettings, {"corp_id": ctx.corp_id})[0]


def end_session(ctx: HandlerContext, session: KfSession, reason: str, end_message: str,
                tell_wecom: bool = True) -> None:
    """End the session (closing words, silence, a removed receptionist). WeCom reported the end
    (`tell_wecom` False): it is over. A person receives it: WeCom 3 → 4 with the end message, and the freed
    receptionist takes the account's next queued customer. Otherwise WeCom may not end it: it lapses."""
    if tell_wecom and session.state != SessionState.human.value:
        _lapse(ctx, session, reason, end_message)
        return
    freed = session.servicer_userid if session.state == SessionState.human.value else None
    _ended(session, reason)
    if tell_wecom:  # keyed per customer message too: an end WeCom refused (kf_send.py) may be tried again later
        ctx.outbox("kf_end", {"app_pk": session.app_pk, "session_pk": session.id, "content": end_message},
                   key=f"kf_end:{session.id}:{session.customer_msgs}", queue=FAST)
    if freed and session.account_pk is not None:
        account = ctx.session.get(KfAccount, session.account_pk)
        if account is not None:
            drain_queue(ctx, account)


def _ended(session: KfSession, reason: str) -> None:
    session.state = SessionState.ended.value
    session.ended_at = utcnow()
    session.end_reason = reason


def _lapse(ctx: HandlerContext, session: KfSession, reason: str, end_message: str) -> None:
    """A session in WeCom's 0/1/2 that should end: no API call can end it, so it lapses. While WeCom has it
    in 0/1 (ours new/bot) the customer gets the end message through send_msg; a queued one cannot get it."""
    if session.state in (SessionState.new.value, SessionState.bot.value) and end_message:
        # one per lapse: a session the customer resumed may lapse again after their next message
        lapse = f"lapse-{session.session_id}-{session.customer_msgs}"
        ctx.outbox("kf_send_text", {
            "app_pk": session.app_pk, "session_pk": session.id, "open_kfid": session.open_kfid,
            "external_userid": session.external_userid, "content": end_message,
            "msgid": answer_msgid(ctx.corp_id, session.open_kfid, lapse)},
            key=f"kf_{lapse}", queue=FAST)
    session.state = SessionState.lapsing.value
    session.end_reason = reason


def resume(session: KfSession) -> None:
    """The customer writes again in a lapsing session: WeCom still has it where it was, so ours is too (a
    session that was queued is in WeCom's queue; else it is new or the bot's)."""
    if session.state != SessionState.lapsing.value:
        return
    if session.queued_at is not None:
        session.state = SessionState.queue.value
    else:
        session.state = SessionState.bot.value if session.bot_msgs else SessionState.new.value
    session.end_reason = None


def _candidates(ctx: HandlerContext, account: KfAccount) -> list[Candidate]:
    userids = ctx.session.scalars(select(KfServicer.userid).where(
        KfServicer.account_pk == account.id, KfServicer.status == ServicerStatus.receiving.value)).all()
    if not userids:
        return []
    loads = dict(ctx.session.execute(
        select(KfSession.servicer_userid, func.count()).where(
            KfSession.corp_id == ctx.corp_id, KfSession.state == SessionState.human.value,
            KfSession.servicer_userid.in_(userids))
        .group_by(KfSession.servicer_userid)).all())
    return [Candidate(u, int(loads.get(u, 0))) for u in userids]


def hand_over(ctx: HandlerContext, session: KfSession, account: KfAccount | None) -> None:
    """Give the customer to a person by the account's rule, within each person's concurrent limit; when all
    are full (or the account has nobody), the customer queues (service_state 2)."""
    ctx.session.flush()  # the loads and last receptionists below must see this transaction's moves so far
    userid = None
    if account is not None:
        last = ctx.session.scalar(select(KfSession.servicer_userid).where(
            KfSession.corp_id == ctx.corp_id, KfSession.open_kfid == session.open_kfid,
            KfSession.external_userid == session.external_userid, KfSession.servicer_userid.is_not(None),
            KfSession.id != session.id).order_by(KfSession.id.desc()).limit(1))
        choice = choose_receptionist(account.rule, _candidates(ctx, account), account.max_sessions,
                                     account.rr_next, last)
        account.rr_next = choice.rr_next
        userid = choice.userid
    now = utcnow()
    if userid is None:
        if session.state == SessionState.queue.value:
            return
        session.state = SessionState.queue.value
        session.queued_at = now
    else:
        session.state = SessionState.human.value
        session.servicer_userid = userid
        session.assigned_at = now
    ctx.outbox("kf_trans", {"app_pk": session.app_pk, "session_pk": session.id, "open_kfid": session.open_kfid,
                            "external_userid": session.external_userid, "service_state": 3 if userid else 2,
                            "servicer_userid": userid or ""},
               key=f"kf_trans:{session.id}:{userid or 'queue'}", queue=FAST)


def drain_queue(ctx: HandlerContext, account: KfAccount) -> None:
    """Queued customers of the account, oldest first, to whoever has room, until nobody has."""
    ctx.session.flush()
    queued = ctx.session.scalars(select(KfSession).where(
        KfSession.account_pk == account.id, KfSession.state == SessionState.queue.value)
        .order_by(KfSession.queued_at, KfSession.id)).all()
    for session in queued:
        hand_over(ctx, session, account)
        if session.state == SessionState.queue.value:
            break


def end_silent_sessions(ctx: HandlerContext, now: dt.datetime) -> int:
    """§9.8.2: sessions with no message for the corp's `silence_minutes` end (or lapse), with the end message;
    lapsing sessions whose 48 h are up are ended, as WeCom has ended them by then. Returns how many ended or
    began to lapse."""
    settings = kf_settings(ctx)
    cutoff = now - dt.timedelta(minutes=settings.silence_minutes)
    silent = ctx.session.scalars(select(KfSession).where(
        KfSession.corp_id == ctx.corp_id, KfSession.state.in_(ACTIVE_STATES), KfSession.last_message_at < cutoff)
        .order_by(KfSession.id)).all()
    for session in silent:
        end_session(ctx, session, "silence", settings.end_message)
    lapsed = ctx.session.scalars(select(KfSession).where(
        KfSession.corp_id == ctx.corp_id, KfSession.state == SessionState.lapsing.value,
        KfSession.last_message_at < now - WECOM_LAPSE)).all()
    for session in lapsed:
        session.state, session.ended_at = SessionState.ended.value, now
    return len(silent)
