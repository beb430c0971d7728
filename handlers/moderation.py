"""Conversation oversight inside the transactions that store messages (manual 004 §7.2, §7.3, §9.3).

`store_message` is how every conversation message enters the `messages` table (kf messages synced or
sent, the app messages staff type): it adds the row and scans its text against the corp's enabled
sensitive-word rules. A hit records an alert per (rule, word) and plans one app message to the corp's
alert recipients. Nothing here calls WeCom: notifications are outbox rows (`staff_message`, run by
jobs/moderation.py) enqueued once the caller's transaction commits, through a session hook, because the
callers (the kf page applier, a kf effect's `finish`, an event handler) each own their transaction and
their own list of outbox rows.

`check_reply_timeouts` is the §7.2 detector the periodic job runs: a customer message with no answer
within the corp's limit, counted in working minutes (rules/working_hours.py), is recorded once per
(message, staff member), and the staff member is told if the corp wants it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.orm import Session

from handlers.channels import corp_zone
from handlers.registry import HandlerContext, on
from models import Customer, KfSession, Message, Outbox, Staff
from models.conversation import MessageOrigin, MessageSource
from models.corp import messaging_app
from models.db import get_or_create, utcnow
from models.moderation import (MessageTemplate, ModerationSettings, ReplyTimeout, SensitiveAlert, SensitiveRule,
                               WorkCalendar)
from rules import templates, working_hours
from rules.sensitive import Hit, Matcher, Word
from wecom.events import APP_MESSAGES, AppMessage

log = logging.getLogger(__name__)

CATEGORY_LABELS = {"positive": "正面", "neutral": "中立", "negative": "负面"}
SNIPPET_CHARS = 200
"""How much of the message a notification quotes."""

_PENDING = "moderation.pending_outbox"
_MATCHERS_IN_TX = "moderation.matchers"
_LATER = "moderation.messages_later"
_HOOKED = "moderation.hooked"

_matchers: dict[str, tuple[str, Matcher]] = {}
"""corp_id → (rules_stamp, matcher): built once per version of the corp's rules, shared by threads."""
_matchers_lock = threading.Lock()


# -- after-commit enqueue -------------------------------------------------------------------------------------

def _hook(session: Session) -> None:
    """Once per session: insert the messages stored `later` before commit and enqueue our outbox rows
    after it; forget both and the matchers when the outermost transaction ends any other way (a
    savepoint's rollback leaves them be)."""
    if session.info.get(_HOOKED):
        return
    session.info[_HOOKED] = True
    event.listen(session, "before_commit", _insert_later)
    event.listen(session, "after_commit", _after_commit)
    event.listen(session, "after_transaction_end", _forget)


def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_MATCHERS_IN_TX, None)
        session.info.pop(_LATER, None)


_LATER_COLUMNS = [attr.key for attr in Message.__mapper__.column_attrs if attr.key != "id"]


def _insert_later(session: Session) -> None:
    """One multi-row INSERT for the transaction's `later` messages (with MySQL's driver one statement; an
    ORM insert each was a round trip and a flush's bookkeeping per message)."""
    messages = session.info.pop(_LATER, [])
    if messages:
        now = utcnow()
        session.execute(insert(Message), [
            {**{key: getattr(m, key) for key in _LATER_COLUMNS}, "created_at": m.created_at or now} for m in messages])


def _after_commit(session: Session) -> None:
    from jobs.queue import enqueue  # at call time: jobs imports handlers

    pending = session.info.pop(_PENDING, [])
    session.info.pop(_MATCHERS_IN_TX, None)
    for outbox_id, queue in pending:
        try:
            enqueue("deliver_outbox", outbox_id, job_id=f"outbox-{outbox_id}", queue=queue)
        except Exception:  # Redis down: the committed row waits for the sweeper
            log.warning("outbox %s not enqueued; the sweeper will pick it up", outbox_id, exc_info=True)


def plan_staff_message(session: Session, corp_id: str, key: str, msgtype: str, body: dict[str, Any],
                       touser: list[str], toparty: list[int] | None = None,
                       broadcast_pk: int | None = None, app: tuple[int, int] | None = None) -> Outbox | None:
    """An app message to staff, as an outbox row sent after commit; None when the corp has no app that
    can send one (the caller's record stands; nobody is told)."""
    app = app or messaging_app(session, corp_id)
    if app is None:
        log.warning("corp %s has no app with an agentid: staff message %s not sent", corp_id, key)
        return None
    args = {"app_pk": app[0], "agent_id": app[1], "touser": touser, "toparty": toparty or [], "msgtype": msgtype,
            "body": body, "broadcast_pk": broadcast_pk}
    row = HandlerContext(session=session, corp_id=corp_id, app_pk=app[0]).outbox("staff_message", args, key=key)
    if row.status == "pending":
        _hook(session)
        session.info.setdefault(_PENDING, []).append((row.id, row.queue))
    return row


def notification(session: Session, corp_id: str, category: str, values: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(msgtype, body) of a notification: the corp's enabled template of the category (§9.13, the oldest
    when several are enabled), else the category's built-in wording (rules.templates.NOTIFICATIONS)."""
    template = session.scalar(select(MessageTemplate).where(
        MessageTemplate.corp_id == corp_id, MessageTemplate.category == category,
        MessageTemplate.enabled.is_(True), MessageTemplate.deleted_at.is_(None)).order_by(MessageTemplate.id).limit(1))
    if template is None:
        return templates.built_in(category, values)
    return template.msgtype, templates.render(template.msgtype, template.body, values)


# -- sensitive words ------------------------------------------------------------------------------------------

def moderation_settings(session: Session, corp_id: str) -> ModerationSettings:
    return get_or_create(session, ModerationSettings, {"corp_id": corp_id})[0]


def _matcher(session: Session, corp_id: str) -> tuple[ModerationSettings | None, Matcher]:
    """The corp's settings and matcher, looked up once per transaction and rebuilt only when the rules'
    stamp changed."""
    in_tx = session.info.setdefault(_MATCHERS_IN_TX, {})
    if corp_id in in_tx:
        return in_tx[corp_id]
    _hook(session)
    settings = session.scalar(select(ModerationSettings).where(ModerationSettings.corp_id == corp_id))
    matcher = Matcher([])
    if settings is not None:
        with _matchers_lock:
            known = _matchers.get(corp_id)
        if known is not None and known[0] == settings.rules_stamp:
            matcher = known[1]
        else:
            rules = session.scalars(select(SensitiveRule).where(
                SensitiveRule.corp_id == corp_id, SensitiveRule.enabled.is_(True),
                SensitiveRule.deleted_at.is_(None)).order_by(SensitiveRule.id))
            matcher = Matcher([Word(w, r.id, r.category) for r in rules for w in r.words])
            with _matchers_lock:
                _matchers[corp_id] = (settings.rules_stamp, matcher)
    in_tx[corp_id] = (settings, matcher)
    return settings, matcher


def store_message(session: Session, message: Message, later: bool = False) -> Message:
    """Add a conversation message and scan it (the one way a Message row is stored).

    `later` is for transactions that store many (a kf page, a batch of bot answers): a message without a
    sensitive word is then inserted just before the commit, with the transaction's other `later` ones in
    one INSERT, and has no id and cannot be queried until then. A message with a hit is stored at once
    (its alerts need its id)."""
    if later and not _word_hits(session, message):
        _hook(session)
        session.info.setdefault(_LATER, []).append(message)
        return message
    session.add(message)
    scan_message(session, message)
    return message


def _staff_of(session: Session, message: Message) -> str | None:
    """The staff member a message involves: its own userid, else its kf session's receptionist."""
    if message.userid:
        return message.userid
    if message.session_pk is not None:
        return session.scalar(select(KfSession.servicer_userid).where(KfSession.id == message.session_pk))
    return None


def _names(session: Session, corp_id: str, userid: str | None, external_userid: str | None) -> tuple[str, str]:
    staff = session.scalar(select(Staff.name).where(Staff.corp_id == corp_id, Staff.userid == userid)) \
        if userid else None
    customer = session.scalar(select(Customer.name).where(
        Customer.corp_id == corp_id, Customer.external_userid == external_userid)) if external_userid else None
    return staff or userid or "-", customer or external_userid or "-"


def _local(session: Session, corp_id: str, at: dt.datetime) -> str:
    return at.astimezone(corp_zone(session, corp_id)).strftime("%Y-%m-%d %H:%M")


def _word_hits(session: Session, message: Message) -> list[Hit]:
    """The enabled rules' words in the message's text (none when the corp has no settings yet)."""
    if not message.content:
        return []
    settings, matcher = _matcher(session, message.corp_id)
    return matcher.hits(message.content) if settings is not None else []


def scan_message(session: Session, message: Message) -> list[SensitiveAlert]:
    """Alerts for the enabled rules' words in the message's text, with the notification planned."""
    hits = _word_hits(session, message)
    settings = _matcher(session, message.corp_id)[0]
    if not hits or settings is None:
        return []
    session.flush()  # the message's id, for the alerts
    staff = _staff_of(session, message)
    recipients = list(dict.fromkeys(settings.alert_userids + ([staff] if settings.alert_notify_sender and staff
                                                                    else [])))
    app = messaging_app(session, message.corp_id) if recipients else None
    notified = recipients if app else []
    alerts = [SensitiveAlert(corp_id=message.corp_id, message_pk=message.id, rule_pk=hit.rule_id, word=hit.word,
                             category=hit.category, userid=staff, external_userid=message.external_userid,
                             notified=notified, at=message.send_time) for hit in hits]
    session.add_all(alerts)
    session.execute(update(SensitiveRule).where(SensitiveRule.id.in_({h.rule_id for h in hits}))
                    .values(hits=SensitiveRule.hits + 1).execution_options(synchronize_session=False))
    if app is not None:
        words = "、".join(dict.fromkeys(h.word for h in hits))
        category = "、".join(CATEGORY_LABELS.get(c, c) for c in dict.fromkeys(h.category for h in hits))
        staff_name, customer_name = _names(session, message.corp_id, staff, message.external_userid)
        values = {"staff": staff_name, "customer": customer_name, "words": words, "category": category,
                  "content": message.content[:SNIPPET_CHARS], "time": _local(session, message.corp_id,
                                                                             message.send_time)}
        msgtype, body = notification(session, message.corp_id, templates.SENSITIVE_WORD, values)
        plan_staff_message(session, message.corp_id, f"sensitive_alert:{message.id}", msgtype, body, recipients,
                           app=app)
    return alerts


@on(*(f"message/{kind}" for kind in sorted(APP_MESSAGES)))
def store_app_message(ctx: HandlerContext, event_: AppMessage) -> None:
    """A staff member's message to the self-built app is a conversation message too: stored once (its
    MsgId) and scanned. Bot commands are among them; the bot handler answers those on its own."""
    msgid = f"app:{event_.agent_id or 0}:{event_.msg_id or f'inbox-{ctx.inbox_id}'}"
    s = ctx.session
    if s.scalar(select(Message.id).where(Message.corp_id == ctx.corp_id, Message.msgid == msgid)) is not None:
        return
    content = event_.content if event_.msg_type == "text" else \
        " ".join(p for p in (event_.title, event_.description) if p)
    store_message(s, Message(
        corp_id=ctx.corp_id, source=MessageSource.app.value, msgid=msgid, userid=event_.from_user or None,
        origin=MessageOrigin.servicer.value, msgtype=event_.msg_type, content=content, raw=dict(event_.fields),
        send_time=event_.create_time or dt.datetime.now(dt.UTC)))


# -- reply timeouts -------------------------------------------------------------------------------------------

LOOKBACK = dt.timedelta(days=14)
"""Customer messages older than this are never looked at (a first run, or a long outage)."""
RECHECK = dt.timedelta(minutes=10)
"""Messages sent this long before the last decided one are looked at again: kf pages may be stored a
little after messages already decided."""
BATCH = 1000
ANSWERS = (MessageOrigin.servicer.value, MessageOrigin.bot.value)


def calendar_for(session: Session, corp_id: str) -> tuple[working_hours.Calendar, ZoneInfo]:
    """The corp's working-hours calendar (the default when it set none) and its time zone."""
    row = session.scalar(select(WorkCalendar).where(WorkCalendar.corp_id == corp_id))
    calendar = working_hours.DEFAULT
    if row is not None:
        parsed, problems = working_hours.parse({"week": row.week, "holidays": row.holidays})
        if parsed is None:
            log.error("corp %s: stored working hours do not parse (%s); using the default", corp_id, problems)
        else:
            calendar = parsed
    return calendar, corp_zone(session, corp_id)


def _conversation(message: Message) -> list[Any]:
    return [Message.corp_id == message.corp_id, Message.source == message.source,
            Message.external_userid == message.external_userid,
            Message.open_kfid.is_(None) if message.open_kfid is None else Message.open_kfid == message.open_kfid,
            (Message.send_time > message.send_time)
            | ((Message.send_time == message.send_time) & (Message.id > message.id))]


def check_reply_timeouts(session: Session, corp_id: str, now: dt.datetime) -> int:
    """Record the corp's customer messages whose reply limit ran out unanswered; returns how many.

    The clock starts at the customer's message and restarts at their next one (§7.2: 以客户回复最后时间开始
    计算), so a message times out when neither the staff (or bot) nor the customer wrote in that
    conversation before its deadline. Deadlines grow with the message time for a given calendar, so
    messages are taken oldest first up to the first one still running, and the progress is kept.
    """
    settings = session.scalar(select(ModerationSettings).where(ModerationSettings.corp_id == corp_id))
    if settings is None or settings.reply_timeout_minutes <= 0:
        return 0
    limit = settings.reply_timeout_minutes
    calendar, zone = calendar_for(session, corp_id)
    floor = now - LOOKBACK
    since = max(settings.timeouts_checked_until - RECHECK, floor) if settings.timeouts_checked_until else floor
    candidates = session.scalars(select(Message).where(
        Message.corp_id == corp_id, Message.origin == MessageOrigin.customer.value,
        Message.external_userid.is_not(None), Message.send_time > since,
        Message.send_time <= now - dt.timedelta(minutes=limit))
        .order_by(Message.send_time, Message.id).limit(BATCH)).all()
    decided = settings.timeouts_checked_until
    recorded = 0
    for message in candidates:
        due = calendar.add(message.send_time, limit, zone)
        if due is not None and due > now:
            break
        decided = max(decided, message.send_time) if decided else message.send_time
        staff = _staff_of(session, message)
        if due is None or staff is None:
            continue
        following = session.execute(select(Message.send_time).where(
            *_conversation(message), Message.origin.in_((MessageOrigin.customer.value, *ANSWERS)))
            .order_by(Message.send_time, Message.id).limit(1)).first()
        if following is not None and following.send_time <= due:
            continue
        if session.scalar(select(ReplyTimeout.id).where(ReplyTimeout.message_pk == message.id,
                                                        ReplyTimeout.userid == staff)) is not None:
            continue
        replied_at = session.scalar(select(func.min(Message.send_time)).where(
            *_conversation(message), Message.origin.in_(ANSWERS)))
        timeout = ReplyTimeout(corp_id=corp_id, message_pk=message.id, userid=staff,
                               external_userid=message.external_userid, open_kfid=message.open_kfid,
                               limit_minutes=limit, message_at=message.send_time, due_at=due, replied_at=replied_at)
        session.add(timeout)
        session.flush()
        recorded += 1
        if settings.reply_timeout_notify:
            _tell_late(session, timeout, message)
    settings.timeouts_checked_until = decided
    return recorded


def _tell_late(session: Session, timeout: ReplyTimeout, message: Message) -> None:
    """§7.2: the staff member hears of the timeout by app message."""
    staff_name, customer_name = _names(session, timeout.corp_id, timeout.userid, timeout.external_userid)
    values = {"staff": staff_name, "customer": customer_name,
              "content": message.content[:SNIPPET_CHARS] or "[非文本消息]",
              "time": _local(session, timeout.corp_id, message.send_time), "minutes": str(timeout.limit_minutes)}
    msgtype, body = notification(session, timeout.corp_id, templates.REPLY_TIMEOUT, values)
    plan_staff_message(session, timeout.corp_id, f"reply_timeout:{timeout.id}", msgtype, body, [timeout.userid])
