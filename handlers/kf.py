"""WeChat customer service (微信客服, 004 §12): the kf_msg_or_event callback, and what each synced message
does to the service session.

The callback carries only a Token and the account (OpenKfId), so its handler plans one `kf_sync` outbox
row; the job (jobs/kf.py) pages kf/sync_msg and hands each page to `apply_page`, in the transaction that
also moves the cursor. Everything here runs inside that transaction: messages are stored once (msgid),
sessions move through WeCom's states (new → bot → queue/human → ended), and WeCom calls (welcome, bot
answer, hand-over, end) are outbox rows run after commit, so a page applied once has its effects once.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from handlers.moderation import store_message
from handlers.registry import HandlerContext, on
from models import (
    KfAccount, KfCursor, KfServicer, KfSession, KfSettings, KnowledgeItem, Message, Outbox, OutboxStatus,
)
from models.conversation import KF_ORIGINS, MessageOrigin, MessageSource
from models.db import get_or_create, utcnow
from models.kf import ServicerStatus, SessionState
from rules.kf import STATUS_CHANGE_STATE, Candidate, choose_receptionist, is_closing, wants_person
from rules.knowledge import Entry, best_answer
from wecom.events import KfEvent

log = logging.getLogger(__name__)

WELCOME_CODE_TTL = dt.timedelta(seconds=20)
"""An enter_session welcome_code allows one message within 20 s (PROTOCOL.md §4)."""

FAST = "welcome"
"""Session calls go on the fast queue workers take first: a customer is waiting in the chat, and the end
message's msg_code, like the welcome_code, dies 20 s after the move (PROTOCOL.md §4)."""

OPEN_STATES = (SessionState.new.value, SessionState.bot.value, SessionState.queue.value, SessionState.human.value)


@on("kf_msg_or_event")
def kf_callback(ctx: HandlerContext, event: KfEvent) -> None:
    """Count the callback on the account's cursor and keep its Token (sync_msg runs unthrottled with it for
    10 min); plan a sync only when no sync of the account is pending: the pending one syncs again before
    it is done if the count moved, so it fetches this callback's messages too."""
    if not event.open_kf_id:
        log.warning("kf_msg_or_event without OpenKfId (inbox %s): nothing to sync", ctx.inbox_id)
        return
    cursor = locked_cursor(ctx.session, ctx.corp_id, event.open_kf_id)
    cursor.requested += 1
    if event.token:
        cursor.token = event.token
    if cursor.sync_outbox_id and _sync_pending(ctx.session, cursor.sync_outbox_id):
        return
    row = ctx.outbox("kf_sync", {"app_pk": ctx.app_pk, "open_kfid": event.open_kf_id},
                     key=f"kf_sync:{ctx.inbox_id}", queue=FAST)
    cursor.sync_outbox_id = row.id


def _this_transaction(s: Session, name: str) -> dict[Any, Any]:
    """A memo that lives as long as the session's current transaction (and the row locks it holds)."""
    tx = s.get_transaction()
    memo = s.info.get(name)
    if memo is None or memo[0] is not tx:
        memo = s.info[name] = (tx, {})
    return memo[1]


def _sync_pending(s: Session, outbox_id: int) -> bool:
    """Whether the sync row is still pending, read under a lock the first time in this transaction (the
    batch's later callbacks of the account ask again; the lock makes the first answer hold till commit)."""
    locked: dict[int, Outbox] = _this_transaction(s, "kf_locked_syncs")
    row = locked.get(outbox_id)
    if row is None:
        row = s.scalar(select(Outbox).where(Outbox.id == outbox_id).with_for_update())
        if row is None:
            return False
        locked[outbox_id] = row
    return row.status == OutboxStatus.pending.value


def locked_cursor(s: Session, corp_id: str, open_kfid: str) -> KfCursor:
    """The account's cursor row, created if missing, locked until commit (taken once per transaction: a
    batch of the account's callbacks asks for it once each). Callbacks and syncs of one account take it
    before the sync's outbox row, so they serialize on it without deadlocking on MySQL."""
    locked: dict[tuple[str, str], KfCursor] = _this_transaction(s, "kf_locked_cursors")
    row = locked.get((corp_id, open_kfid))
    if row is not None:
        return row
    stmt = select(KfCursor).where(KfCursor.corp_id == corp_id, KfCursor.open_kfid == open_kfid).with_for_update()
    row = s.scalar(stmt)
    if row is None:
        get_or_create(s, KfCursor, {"corp_id": corp_id, "open_kfid": open_kfid})
        row = s.scalars(stmt.execution_options(populate_existing=True)).one()
    locked[(corp_id, open_kfid)] = row
    return row


def kf_settings(ctx: HandlerContext) -> KfSettings:
    return get_or_create(ctx.session, KfSettings, {"corp_id": ctx.corp_id})[0]


class PageApplier:
    """Applies sync_msg pages of one account within one transaction, with the corp's rules loaded once."""

    def __init__(self, ctx: HandlerContext, open_kfid: str) -> None:
        self.ctx = ctx
        self.s = ctx.session
        self.open_kfid = open_kfid
        self.account = self.s.scalar(select(KfAccount).where(
            KfAccount.corp_id == ctx.corp_id, KfAccount.open_kfid == open_kfid, KfAccount.deleted_at.is_(None)))
        self.settings = kf_settings(ctx)
        self._entries: list[Entry] | None = None
        self._items: dict[int, KnowledgeItem] = {}
        self._hits: Counter[int] = Counter()
        self._sessions: dict[str, KfSession] = {}

    def apply(self, msg_list: list[dict[str, Any]]) -> int:
        """Store the page's new messages and act on them; returns how many were new."""
        ids = [str(m.get("msgid", "")) for m in msg_list]
        known = set(self.s.scalars(select(Message.msgid).where(Message.corp_id == self.ctx.corp_id,
                                                               Message.msgid.in_(ids))))
        stored = 0
        fresh = [m for m in msg_list if str(m.get("msgid", "")) not in known]
        self._load_open_sessions(fresh)
        self._open_sessions_ahead(fresh)
        with self.s.no_autoflush:  # the page's rows go in with the commit's flush, not one flush per message
            for msg in msg_list:
                msgid = str(msg.get("msgid", ""))
                if not msgid or msgid in known:
                    continue
                known.add(msgid)
                self._one(msgid, msg)
                stored += 1
        # Counted last: every answer of every account bumps the same few rows, and on MySQL their row
        # locks are then held only from here to the commit, not across the whole page.
        for item_id, n in sorted(self._hits.items()):
            self.s.execute(update(KnowledgeItem).where(KnowledgeItem.id == item_id)
                           .values(hits=KnowledgeItem.hits + n).execution_options(synchronize_session=False))
        return stored

    def _one(self, msgid: str, msg: dict[str, Any]) -> None:
        origin, external_userid, at = _who_and_when(msg)
        msgtype = str(msg.get("msgtype", ""))
        text = msg.get("text", {}).get("content", "") if msgtype == "text" else ""
        session = None
        if external_userid:
            if origin is MessageOrigin.customer:
                session = self._customer_said(external_userid, msgid, msgtype, text, at)
            elif origin is MessageOrigin.servicer:
                session = self._servicer_said(external_userid, at)
            elif msgtype == "event":
                session = self._event(external_userid, msg.get("event", {}), at)
        elif msgtype == "event":
            self._account_event(msg.get("event", {}))
        store_message(self.s, Message(
            corp_id=self.ctx.corp_id, source=MessageSource.kf.value, msgid=msgid, open_kfid=self.open_kfid,
            external_userid=external_userid or None, userid=msg.get("servicer_userid") or None,
            origin=origin.value, msgtype=msgtype, content=text, raw=msg, send_time=at,
            session_pk=session.id if session else None), later=True)

    # -- sessions --------------------------------------------------------------------------------------

    def _load_open_sessions(self, msg_list: list[dict[str, Any]]) -> None:
        """The open sessions of the page's customers, in one query instead of one per message."""
        customers = {str(m.get("external_userid") or m.get("event", {}).get("external_userid", "")) for m in msg_list}
        customers.discard("")
        if not customers:
            return
        rows = self.s.scalars(select(KfSession).where(
            KfSession.corp_id == self.ctx.corp_id, KfSession.open_kfid == self.open_kfid,
            KfSession.external_userid.in_(customers), KfSession.state.in_(OPEN_STATES)).order_by(KfSession.id))
        self._sessions.update({row.external_userid: row for row in rows})  # the newest wins

    def _open_sessions_ahead(self, msg_list: list[dict[str, Any]]) -> None:
        """The sessions the page's messages will open, made before the messages are applied and inserted in
        one flush: every message and answer then knows its session's id without a flush of its own. Each is
        made as `_open_session` would make it at that customer's first message that opens one."""
        for msg in msg_list:
            origin, external_userid, at = _who_and_when(msg)
            event = msg.get("event", {}) if msg.get("msgtype") == "event" else {}
            opens = origin in (MessageOrigin.customer, MessageOrigin.servicer) or event.get("event_type") in (
                "enter_session", "session_status_change")
            if external_userid and opens and external_userid not in self._sessions:
                self._new_session(external_userid, at, str(event.get("scene", ""))[:32])
        self.s.flush()

    def _new_session(self, external_userid: str, at: dt.datetime, scene: str) -> KfSession:
        session = KfSession(
            session_id=uuid.uuid4().hex, corp_id=self.ctx.corp_id, app_pk=self.ctx.app_pk,
            account_pk=self.account.id if self.account else None, open_kfid=self.open_kfid,
            external_userid=external_userid, scene=scene, state=SessionState.new.value, started_at=at,
            last_message_at=at, customer_msgs=0, staff_msgs=0, bot_msgs=0)
        self.s.add(session)
        self._sessions[external_userid] = session
        return session

    def _open_session(self, external_userid: str, at: dt.datetime, scene: str = "") -> KfSession:
        session = self._sessions.get(external_userid)
        if session is None or session.state not in OPEN_STATES:  # none, or it ended earlier in this page
            session = self._new_session(external_userid, at, scene)
            self.s.flush()
        session.last_message_at = max(session.last_message_at, at)
        return session

    def _customer_said(self, external_userid: str, msgid: str, msgtype: str, text: str,
                       at: dt.datetime) -> KfSession:
        session = self._open_session(external_userid, at)
        session.customer_msgs += 1
        settings = self.settings
        if text and is_closing(text, settings.closing_words):
            end_session(self.ctx, session, "closing", settings.end_message)
        elif session.state in (SessionState.new.value, SessionState.bot.value):
            if text and not wants_person(text, settings.handover_words):
                match = best_answer(text, self._knowledge(), settings.bot_threshold)
                if match is not None:
                    self._bot_answer(session, msgid, match.id)
                    return session
            hand_over(self.ctx, session, self.account)
        return session

    def _bot_answer(self, session: KfSession, msgid: str, item_id: int) -> None:
        item = self._items[item_id]
        self._hits[item_id] += 1
        session.state = SessionState.bot.value
        session.bot_msgs += 1
        session.first_response_at = session.first_response_at or utcnow()
        self.ctx.outbox("kf_send_text", {
            "app_pk": session.app_pk, "session_pk": session.id, "open_kfid": session.open_kfid,
            "external_userid": session.external_userid, "content": item.answer, "msgid": f"bot-{msgid}"[:64]},
            key=f"kf_answer:{self.ctx.corp_id}:{msgid}", queue=FAST, fresh=True)

    def _knowledge(self) -> list[Entry]:
        if self._entries is None:
            rows = self.s.scalars(select(KnowledgeItem).where(
                KnowledgeItem.corp_id == self.ctx.corp_id, KnowledgeItem.enabled.is_(True),
                KnowledgeItem.deleted_at.is_(None)))
            self._items = {r.id: r for r in rows}  # held here: the session's identity map only keeps weak refs
            self._entries = [Entry(r.id, r.question, tuple(r.similar)) for r in self._items.values()]
        return self._entries

    def _servicer_said(self, external_userid: str, at: dt.datetime) -> KfSession:
        session = self._open_session(external_userid, at)
        session.staff_msgs += 1
        session.first_response_at = session.first_response_at or at
        return session

    def _event(self, external_userid: str, event: dict[str, Any], at: dt.datetime) -> KfSession | None:
        kind = event.get("event_type")
        if kind == "enter_session":
            session = self._open_session(external_userid, at, scene=str(event.get("scene", ""))[:32])
            code = event.get("welcome_code")
            if code and self.account is not None and self.account.welcome_text:
                self.ctx.outbox("kf_welcome", {
                    "app_pk": session.app_pk, "session_pk": session.id, "code": code,
                    "content": self.account.welcome_text, "deadline": (at + WELCOME_CODE_TTL).isoformat()},
                    key=f"kf_welcome:{self.ctx.corp_id}:{code}"[:191], queue=FAST)
            return session
        if kind == "session_status_change":
            state = STATUS_CHANGE_STATE.get(int(event.get("change_type", 0)))
            session = self._open_session(external_userid, at)
            if state == SessionState.ended.value:
                end_session(self.ctx, session, "wecom", self.settings.end_message, tell_wecom=False)
            elif state == SessionState.human.value:
                session.state = state
                session.servicer_userid = event.get("new_servicer_userid") or session.servicer_userid
                session.assigned_at = session.assigned_at or at
            return session
        return None

    def _account_event(self, event: dict[str, Any]) -> None:
        """servicer_status_change: a receptionist starts (1) or stops (2) receiving on this account."""
        if event.get("event_type") != "servicer_status_change" or self.account is None:
            return
        row = self.s.scalar(select(KfServicer).where(KfServicer.account_pk == self.account.id,
                                                     KfServicer.userid == event.get("servicer_userid")))
        status = {1: ServicerStatus.receiving, 2: ServicerStatus.stopped}.get(int(event.get("status", 0)))
        if row is not None and status is not None:
            row.status = status.value


def _who_and_when(msg: dict[str, Any]) -> tuple[MessageOrigin, str, dt.datetime]:
    """A sync_msg item's origin, customer (also named inside events) and send time."""
    origin = KF_ORIGINS.get(int(msg.get("origin", 0)), MessageOrigin.system)
    external_userid = str(msg.get("external_userid") or msg.get("event", {}).get("external_userid", ""))
    return origin, external_userid, dt.datetime.fromtimestamp(int(msg.get("send_time", 0)), dt.UTC)


def end_session(ctx: HandlerContext, session: KfSession, reason: str, end_message: str,
                tell_wecom: bool = True) -> None:
    """End the session (closing words, silence, a removed receptionist): WeCom state 4 with the end message
    (not when WeCom itself reported the end), then give the freed receptionist the account's next queued
    customer."""
    freed = session.servicer_userid if session.state == SessionState.human.value else None
    session.state = SessionState.ended.value
    session.ended_at = utcnow()
    session.end_reason = reason
    if tell_wecom:
        ctx.outbox("kf_end", {"app_pk": session.app_pk, "session_pk": session.id, "content": end_message},
                   key=f"kf_end:{session.id}", queue=FAST)
    if freed and session.account_pk is not None:
        account = ctx.session.get(KfAccount, session.account_pk)
        if account is not None:
            drain_queue(ctx, account)


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
    """§9.8.2: sessions with no message for the corp's `silence_minutes` end, with the end message."""
    settings = kf_settings(ctx)
    cutoff = now - dt.timedelta(minutes=settings.silence_minutes)
    silent = ctx.session.scalars(select(KfSession).where(
        KfSession.corp_id == ctx.corp_id, KfSession.state.in_(OPEN_STATES), KfSession.last_message_at < cutoff)
        .order_by(KfSession.id)).all()
    for session in silent:
        end_session(ctx, session, "silence", settings.end_message)
    return len(silent)
