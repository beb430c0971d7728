"""WeCom's side of one customer with one customer-service account in the fake: the session's service_state
and the rules it moves by (doc 94669's table, the 48 h lapse), the single-use codes for send_msg_on_event,
and what WeCom's message ids look like. Split from ``kf_state.py``, which holds the tables and the lock."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

EVENT_CODE_TTL = 20.0
"""welcome_code and end-of-session msg_code: one message within 20 s (docs/PROTOCOL.md §4)."""

MAX_SENDS_PER_CUSTOMER_MESSAGE = 5
"""At most 5 messages after each customer message (docs/PROTOCOL.md §4: ≤5 within 48 h); 95001 beyond."""

REPLY_WINDOW = 48 * 3600.0
"""send_msg is allowed within 48 h of the customer's last message; 95002 after."""

SESSION_LAPSE = 48 * 3600.0
"""WeCom ends a session by itself 48 h after the customer's last message (doc 94669: a session is the 48 h
after the customer writes, or until it is ended)."""

REPLY_CODE_TTL = 48 * 3600.0
"""The msg_code of a session's first move into the queue (2) or to a person (3) lives 48 h (doc 94669)."""

# service_state transitions WeCom allows through kf/service_state/trans (doc 94669's table): 0 new to the bot,
# the queue or a person; 1 bot to the queue or a person; 2 queue to a person; 3 person to another person or
# the end. Ending through the API is listed from 3 only; nothing moves out of 4 (95013 there, 95016 else).
TRANSITIONS = {0: {1, 2, 3}, 1: {2, 3}, 2: {3}, 3: {3, 4}, 4: set()}

MSGID_PATTERN = re.compile(r"^[0-9a-zA-Z_-]{0,32}$")
"""send_msg's own msgid (doc 94677): at most 32 bytes of [0-9a-zA-Z_-], unique per account; 40058 else."""

MSGID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MSGID_LENGTH = 44
"""The fake's message ids look like WeCom's: 44 letters and digits (real ones are 34-44+ characters)."""


TEXT_OR_MENU = frozenset({"text", "msgmenu"})
TEXT_ONLY = frozenset({"text"})


@dataclass
class Code:
    """A welcome_code or msg_code: one send_msg_on_event before ``expires_at``, of ``msgtypes``, and (all but the
    welcome_code) only while the session is still in the ``state`` the code came with (the send_msg_on_event
    page: 进入接待池 48 h text; 从接待池接入 48 h text; 结束会话 20 s text or menu; the welcome 20 s text or menu)."""

    corpid: str
    open_kfid: str
    external_userid: str
    expires_at: float
    state: int | None = None
    msgtypes: frozenset[str] = TEXT_OR_MENU
    used: bool = False


@dataclass
class Conversation:
    """WeCom's side of one customer with one account."""

    state: int = 0
    servicer: str = ""
    last_customer_at: float = 0.0
    sends_since_customer: int = 0
    reply_code_given: bool = False  # this session's first move into 2 or 3 returned its msg_code
    active_at: float = 0.0  # the customer's last message, or the session's start

    def lapse(self, now: float) -> None:
        """WeCom ends a session 48 h after the customer's last message, whatever its state."""
        if self.state != 4 and now - self.active_at > SESSION_LAPSE:
            self.state, self.servicer = 4, ""

    def reopen(self, now: float) -> None:
        """The customer writes (or enters) after the end: a new session, 未处理."""
        self.state, self.servicer, self.reply_code_given, self.active_at = 0, "", False, now


def new_msgid() -> str:
    """A message id shaped like WeCom's."""
    return "".join(secrets.choice(MSGID_CHARS) for _ in range(MSGID_LENGTH))
