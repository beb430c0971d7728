"""WeChat customer service (微信客服, 004 §12): the kf_msg_or_event and kf_account_auth_change callbacks,
and what each synced message does to the service session (handlers/kf_sessions.py moves whole sessions).

The callback carries only a Token and the account (OpenKfId), so its handler plans one `kf_sync` outbox
row; the job (jobs/kf.py) pages kf/sync_msg and hands each page to `apply_page`, in the transaction that
also moves the cursor. Everything here runs inside that transaction: messages are stored once (msgid),
sessions move through WeCom's states (new → bot → queue/human → lapsing/ended), and WeCom calls (welcome,
bot answer, hand-over, end) are outbox rows run after commit, so a page applied once has its effects once.
Only recent messages are acted on (rules/kf.py `acts_on`); older ones, which a first sync or a lost cursor
brings back from sync_msg's 3 days, are stored and nothing else.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handlers.kf_sessions import FAST, OPEN_STATES, end_session, hand_over, kf_settings, resume
from handlers.moderation import plan_staff_message, store_message
from handlers.registry import HandlerContext, on
from handlers.smart_tags import on_messages
from models import KfAccount, KfCursor, KfServicer, KfSession, KnowledgeItem, Message, Outbox, OutboxStatus
from models.conversation import KF_ORIGINS, MessageOrigin, MessageSource
from models.db import get_or_create, utcnow
from models.kf import RowStatus, ServicerStatus, SessionState
from rules.kf import (
    STATUS_CHANGE_STATE, SEND_FAIL_REASONS, SendFailAction, acts_on, answer_msgid, is_closing, send_fail_action,
    wants_person,
)
from rules.knowledge import Entry, best_answer
from wecom.events import KfAuthChangeEvent, KfEvent

log = logging.getLogger(__name__)

WELCOME_CODE_TTL = dt.timedelta(seconds=20)
"""An enter_session welcome_code allows one message within 20 s (docs/PROTOCOL.md §4)."""


@on("kf_msg_or_event")
def kf_callback(ctx: HandlerContext, event: KfEvent) -> None:
    """Count the callback on the account's cursor and keep its Token (sync_msg runs unthrottled with it for
    10 min); plan a sync only when no sync of the account is pending: the pending one syncs again before
    it is done if the count moved, so it fetches this callback's messages too."""
    if not event.open_kf_id:
        log.warning("kf_msg_or_event without OpenKfId (inbox %s): nothing to sync", ctx.inbox_id)
        return
    cursor = locked_cursor(ctx.session, ctx.corp_id, event.open_kf_id)
    if cursor.deauthorised_at is not None:
        log.info("kf_msg_or_event for %s, which was taken from this app: not synced", event.open_kf_id)
        return
    cursor.requested += 1
    if event.token:
        cursor.token = event.token
    if cursor.sync_outbox_id and _sync_pending(ctx.session, cursor.sync_outbox_id):
        return
    row = ctx.outbox("kf_sync", {"app_pk": ctx.app_pk, "open_kfid": event.open_kf_id},
                     key=f"kf_sync:{ctx.inbox_id}", queue=FAST)
    cursor.sync_outbox_id = row.id


@on("kf_account_auth_change")
def kf_auth_change(ctx: HandlerContext, event: KfAuthChangeEvent) -> None:
    """Accounts taken from this app (AuthDelOpenKfId, one node each) stop syncing: their callbacks plan no
    sync and a planned one stops (the cursor row says so); given back (AuthAddOpenKfId), they sync again.
    Our own account rows show it in the API."""
    now = utcnow()
    for open_kfid, gone in [(k, True) for k in event.removed] + [(k, False) for k in event.added]:
        if not open_kfid:
            continue
        locked_cursor(ctx.session, ctx.corp_id, open_kfid).deauthorised_at = now if gone else None
        rows = update(KfAccount).where(KfAccount.corp_id == ctx.corp_id, KfAccount.open_kfid == open_kfid,
                                       KfAccount.deleted_at.is_(None))
        if gone:
            ctx.session.execute(rows.values(status=RowStatus.deauthorised.value))
        else:
            ctx.session.execute(rows.where(KfAccount.status == RowStatus.deauthorised.value)
                                .values(status=RowStatus.active.value))
    log.info("kf accounts given to this app: %s; taken from it: %s", list(event.added), list(event.removed))


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


class PageApplier:
    """Applies sync_msg pages of one account within one transaction, with the corp's rules loaded once."""

    def __init__(self, ctx: HandlerContext, open_kfid: str, pass_started: dt.datetime) -> None:
        self.ctx = ctx
        self.pass_started = pass_started
        self.s = ctx.session
        self.open_kfid = open_kfid
        self.account = self.s.scalar(select(KfAccount).where(
            KfAccount.corp_id == ctx.corp_id, KfAccount.open_kfid == open_kfid, KfAccount.deleted_at.is_(None)))
        self.settings = kf_settings(ctx)
        self._entries: list[Entry] | None = None
        self._items: dict[int, KnowledgeItem] = {}
        self._hits: Counter[int] = Counter()
        self._sessions: dict[str, KfSession] = {}
        self._said: dict[str, list[str]] = {}  # external_userid → texts the page's customers wrote (smart tags)

    def apply(self, msg_list: list[dict[str, Any]]) -> int:
        """Store the page's new messages and act on the recent ones (rules/kf.py `acts_on`: the rest come from
        sync_msg's 3-day window after a first sync or a lost cursor); returns how many were new."""
        ids = [str(m.get("msgid", "")) for m in msg_list]
        known = set(self.s.scalars(select(Message.msgid).where(Message.corp_id == self.ctx.corp_id,
                                                               Message.msgid.in_(ids))))
        stored = 0
        fresh = [m for m in msg_list if str(m.get("msgid", "")) not in known and self._acts(m)]
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
        on_messages(self.ctx, self._said)
        self._said = {}
        # Counted last: every answer of every account bumps the same few rows, and on MySQL their row
        # locks are then held only from here to the commit, not across the whole page.
        for item_id, n in sorted(self._hits.items()):
            self.s.execute(update(KnowledgeItem).where(KnowledgeItem.id == item_id)
                           .values(hits=KnowledgeItem.hits + n).execution_options(synchronize_session=False))
        return stored

    def _acts(self, msg: dict[str, Any]) -> bool:
        return acts_on(_who_and_when(msg)[2], self.pass_started)

    def _one(self, msgid: str, msg: dict[str, Any]) -> None:
        origin, external_userid, at = _who_and_when(msg)
        msgtype = str(msg.get("msgtype", ""))
        text = msg.get("text", {}).get("content", "") if msgtype == "text" else ""
        session = None
        acting = acts_on(at, self.pass_started)  # an old one is stored as it came, acted on by nobody
        if origin is MessageOrigin.customer and external_userid and text:
            self._said.setdefault(external_userid, []).append(text)
        if acting and external_userid:
            if origin is MessageOrigin.customer:
                session = self._customer_said(external_userid, msgid, msgtype, text, at)
            elif origin is MessageOrigin.servicer:
                session = self._servicer_said(external_userid, at)
            elif msgtype == "event":
                session = self._event(external_userid, msg.get("event", {}), at)
        elif acting and msgtype == "event":
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
        resume(session)
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
            "external_userid": session.external_userid, "content": item.answer,
            "msgid": answer_msgid(self.ctx.corp_id, session.open_kfid, msgid), "attachments": list(item.attachments)},
            key=f"kf_answer:{self.ctx.corp_id}:{msgid}", queue=FAST, fresh=True)

    def _knowledge(self) -> list[Entry]:
        """The corp's 话术库 (its `qa` items): members' own libraries and 常用语/常用链接 are not the bot's."""
        if self._entries is None:
            rows = self.s.scalars(select(KnowledgeItem).where(
                KnowledgeItem.corp_id == self.ctx.corp_id, KnowledgeItem.enabled.is_(True),
                KnowledgeItem.deleted_at.is_(None), KnowledgeItem.owner_userid.is_(None),
                KnowledgeItem.kind == "qa"))
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
                session.state, session.end_reason = state, None  # also one that was lapsing in the queue
                session.servicer_userid = event.get("new_servicer_userid") or session.servicer_userid
                session.assigned_at = session.assigned_at or at
            return session
        if kind == "msg_send_fail":
            return self._send_failed(external_userid, event)
        return None

    def _send_failed(self, external_userid: str, event: dict[str, Any]) -> KfSession | None:
        """msg_send_fail: WeCom took one of our messages but could not deliver it (fail_type, doc 94670). The
        message is marked; then, by the fail type: the customer who missed the bot's answer gets a person; a
        session WeCom has closed ends here too; what only an admin can fix is told to the account's servicers."""
        fail_type = int(event.get("fail_type", 0))
        failed = self.s.scalar(select(Message).where(Message.corp_id == self.ctx.corp_id,
                                                     Message.msgid == str(event.get("fail_msgid", ""))))
        if failed is not None:
            failed.raw = {**failed.raw, "send_fail": {"fail_type": fail_type}}
        session = self._sessions.get(external_userid)
        open_now = session is not None and session.state in OPEN_STATES
        action = send_fail_action(fail_type)
        log.info("kf message %s not delivered: fail_type %s, %s", event.get("fail_msgid"), fail_type, action.value)
        if session is not None and open_now and action is SendFailAction.hand_over \
                and session.state in (SessionState.new.value, SessionState.bot.value):
            hand_over(self.ctx, session, self.account)
        elif session is not None and open_now and action is SendFailAction.session_over:
            end_session(self.ctx, session, "send_failed", "", tell_wecom=False)
        elif action is SendFailAction.tell_admins and self.account is not None:
            self._tell_servicers(self.account, fail_type, str(event.get("fail_msgid", "")))
        return session if open_now else None

    def _tell_servicers(self, account: KfAccount, fail_type: int, fail_msgid: str) -> None:
        """An app message to the account's servicers: WeCom stopped delivering for a reason only an admin can
        fix (the account deleted, the app closed, the corp not verified, nobody logged in to the WeCom app)."""
        userids = list(self.s.scalars(select(KfServicer.userid).where(KfServicer.account_pk == account.id)
                                      .order_by(KfServicer.userid)))
        if not userids:
            log.warning("kf account %s: a message failed (fail_type %s) and it has no servicer to tell",
                        account.id, fail_type)
            return
        reason = SEND_FAIL_REASONS.get(fail_type, str(fail_type))
        text = (f"微信客服「{account.name}」的消息未能送达客户：{reason}。"
                "请管理员在企业微信管理后台处理，处理前客户收不到客服消息。")
        plan_staff_message(self.s, self.ctx.corp_id, f"kf_send_fail:{self.ctx.corp_id}:{fail_msgid}"[:191], "text",
                           {"content": text}, userids)

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
