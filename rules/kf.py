"""Customer-service decisions (004 §12.1.2, §9.8): who receives a customer, and what a customer's text means
for the session (closing words, a request for a person).

Pure functions on plain values; handlers/kf.py gathers the values from the DB and applies the decision.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass

from rules.knowledge import normalise


@dataclass(frozen=True)
class Candidate:
    """A servicer who is receiving (接待中) on the account, with their current human sessions."""

    userid: str
    load: int


@dataclass(frozen=True)
class Assignment:
    userid: str | None  # None: everyone is at the limit, the customer queues
    rr_next: int  # the account's round-robin pointer after this decision


def choose_receptionist(rule: str, candidates: list[Candidate], limit: int, rr_next: int,
                        last_userid: str | None) -> Assignment:
    """Pick a receptionist by the account's rule among those below `limit` concurrent sessions.

    round_robin: the next servicer (by userid order) from the pointer on, skipping full ones;
    least_busy: the fewest current sessions (ties: the pointer's order, so equal loads still rotate);
    last_receptionist: the customer's previous receptionist if they have room, else round robin.
    """
    ordered = sorted(candidates, key=lambda c: c.userid)
    if not ordered:
        return Assignment(None, rr_next)
    start = rr_next % len(ordered)
    rotation = ordered[start:] + ordered[:start]
    free = [c for c in rotation if c.load < limit]
    if not free:
        return Assignment(None, rr_next)
    if rule == "last_receptionist" and last_userid is not None:
        for c in free:
            if c.userid == last_userid:
                return Assignment(c.userid, rr_next)
    chosen = min(free, key=lambda c: c.load) if rule == "least_busy" else free[0]
    return Assignment(chosen.userid, (ordered.index(chosen) + 1) % len(ordered))


def is_closing(text: str, closing_words: list[str]) -> bool:
    """The customer said goodbye (§9.8.1): the whole message is one of the closing words, ignoring case,
    blanks and punctuation. Only the whole message: "谢谢，还有一个问题" does not end anything."""
    said = normalise(text)
    return bool(said) and any(said == normalise(word) for word in closing_words if normalise(word))


def wants_person(text: str, handover_words: list[str]) -> bool:
    """The customer asks for a person ("人工", "转人工客服"): any hand-over word inside the message."""
    said = normalise(text)
    return any(normalise(word) and normalise(word) in said for word in handover_words)


# session_status_change change_type (kf/sync_msg event): 1 从接待池接入, 2 转接, 3 结束, 4 重新接入.
STATUS_CHANGE_STATE = {1: "human", 2: "human", 3: "ended", 4: "human"}


# -- what WeCom takes -----------------------------------------------------------------------------------------

KF_TEXT_MAX_BYTES = 2048
"""text.content of kf/send_msg and kf/send_msg_on_event: at most 2048 bytes (WeCom answers 45002 beyond)."""


def text_bytes_problems(texts: dict[str, str | None]) -> dict[str, str]:
    """The named texts that WeCom would refuse as too long, each with the reason: the limit is in UTF-8 bytes,
    so 1,000 Chinese characters (3,000 bytes) are too long though they are only 1,000 characters."""
    return {name: f"at most {KF_TEXT_MAX_BYTES} bytes of UTF-8 (this is {len(text.encode())})"
            for name, text in texts.items() if text is not None and len(text.encode()) > KF_TEXT_MAX_BYTES}


def answer_msgid(corp_id: str, open_kfid: str, answers: str) -> str:
    """The msgid kf/send_msg gets for our message answering `answers` (a customer's msgid, or a session's end):
    at most 32 characters of [0-9a-zA-Z_-] as WeCom requires, unique per account, and the same on every retry,
    so that WeCom refuses a second copy instead of showing it. WeCom's own msgids run to 44 characters and
    more, so they are hashed, not cut."""
    return "a" + hashlib.sha256(f"{corp_id}|{open_kfid}|{answers}".encode()).hexdigest()[:31]


# -- which synced messages to act on ----------------------------------------------------------------------------

ACT_WINDOW = dt.timedelta(minutes=30)
"""A synced message older than this when its sync pass started is stored and not acted on: no bot answer, no
hand-over, no session. sync_msg without a cursor (the first sync, or a lost cursor) returns the last 3 days,
and answering or queueing a customer about a message from yesterday is worse than nothing. 30 minutes covers
a sync that waited through the callback job's first retries (5 s, 30 s, 2 min, 10 min)."""


def acts_on(send_time: dt.datetime, pass_started: dt.datetime) -> bool:
    return send_time >= pass_started - ACT_WINDOW


# -- msg_send_fail ----------------------------------------------------------------------------------------------

class SendFailAction(enum.StrEnum):
    """What a msg_send_fail event (fail_type) asks of us."""

    hand_over = "hand_over"  # the customer did not get the bot's answer: a person answers instead
    session_over = "session_over"  # WeCom's session is over: ours ends too
    tell_admins = "tell_admins"  # only an admin can fix it (account, app, corp): the admins are told
    record = "record"  # the customer refused messages: nothing anyone can do but know it


# fail_type of the msg_send_fail event (doc 94670, 消息发送失败事件; SEND_FAIL_REASONS names each).
SEND_FAIL_ACTIONS = {
    0: SendFailAction.hand_over, 1: SendFailAction.tell_admins, 2: SendFailAction.tell_admins,
    4: SendFailAction.session_over, 5: SendFailAction.session_over, 6: SendFailAction.hand_over,
    8: SendFailAction.tell_admins, 10: SendFailAction.record, 11: SendFailAction.tell_admins,
    12: SendFailAction.hand_over,
}
SEND_FAIL_REASONS = {
    0: "未知原因", 1: "客服账号已删除", 2: "应用已关闭", 4: "会话已过期（超过48小时）", 5: "会话已关闭",
    6: "超过5条限制", 8: "主体未验证", 10: "用户拒收", 11: "企业未有成员登录企业微信App",
    12: "发送的消息为客服组件禁发的消息类型",
}


def send_fail_action(fail_type: int) -> SendFailAction:
    """An unknown fail type is treated like 0 (unknown reason): a person answers."""
    return SEND_FAIL_ACTIONS.get(fail_type, SendFailAction.hand_over)


MAX_API_REPLIES = 5
REPLY_WINDOW = dt.timedelta(hours=48)
"""kf/send_msg (doc 94677): only within 48 h of the customer's last message, and at most 5 messages per
customer message; WeCom answers 95002 and 95001 past them. Checked before sending, so the refusal is ours,
with its reason, instead of a call WeCom turns down."""


def reply_refusal(last_customer_at: dt.datetime | None, sent_since: int, now: dt.datetime) -> str | None:
    """Why an API message to the customer may not go now (None: it may)."""
    if last_customer_at is None:
        return "the customer has not written: WeCom lets the API write only within 48 h of a customer message"
    if now - last_customer_at >= REPLY_WINDOW:
        return "the customer's last message is over 48 h old: WeCom lets the API write only within 48 h (95002)"
    if sent_since >= MAX_API_REPLIES:
        return (f"{sent_since} messages went since the customer's last message: WeCom allows at most "
                f"{MAX_API_REPLIES} per customer message within 48 h (95001)")
    return None
