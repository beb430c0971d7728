"""The fake's customer-service (微信客服) memory: accounts, servicers, scene links, the message feed that
kf/sync_msg pages through, sync tokens, service states, welcome and response codes, and what was sent.

Kept out of ``state.py`` (which owns it as ``FakeState.kf``) because it shares nothing with the address
book but the corp's member list, which it is handed. Its own lock, like every public method of the fake.

Errcodes: docs/PROTOCOL.md §4 and the kf pages (docs 94670, 94677, 94669) where they name one; 95000, 95004, 95007
and 95017 also appear in public SDK tables; 45002 (text over 2048 bytes) is the global table's; the rest say
"guess" where they are raised.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from wecom.fake.errors import WeComError
from wecom.fake.kf_conversation import (
    EVENT_CODE_TTL, MAX_SENDS_PER_CUSTOMER_MESSAGE, MSGID_PATTERN, REPLY_CODE_TTL, REPLY_WINDOW, TEXT_ONLY,
    TEXT_OR_MENU, TRANSITIONS, Code, Conversation, new_msgid,
)

SYNC_TOKEN_TTL = 600.0
"""The Token of a kf_msg_or_event callback is valid for 10 minutes (docs/PROTOCOL.md §4)."""

MAX_ACCOUNTS = 5000
"""WeCom's own account limit today (features-004: the manual's 10 is the product's)."""

SYNC_WINDOW = 3 * 24 * 3600.0
"""sync_msg returns only the last 3 days of messages (doc 94670): older ones are gone, cursor or not."""


@dataclass
class Paging:
    """Test knobs: the page size, and one page (by 1-based index) that answers ``delay`` s late, ``times`` times."""

    page_size: int = 1000
    slow_page: int | None = None
    delay: float = 0.0
    times: int = 0


@dataclass
class KfState:
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # open_kfid -> account (with corpid)
    servicers: dict[str, dict[str, int]] = field(default_factory=dict)  # open_kfid -> userid -> status
    contact_ways: list[dict[str, Any]] = field(default_factory=list)
    feeds: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    """(corpid, open_kfid) -> that account's messages in arrival order: a page is a slice, not a scan of all."""
    tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)  # token -> corpid, open_kfid, expiry
    conversations: dict[tuple[str, str], Conversation] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    sent_msgids: set[tuple[str, str]] = field(default_factory=set)  # (open_kfid, msgid) taken by send_msg
    paging: Paging = field(default_factory=Paging)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            for table in (self.accounts, self.servicers, self.contact_ways, self.feeds, self.tokens,
                          self.conversations, self.codes, self.sent, self.sent_msgids):
                table.clear()
            self.paging = Paging()

    # -- accounts ----------------------------------------------------------------------------------------

    def add_account(self, corpid: str, name: str, media_id: str) -> str:
        with self._lock:
            if sum(1 for a in self.accounts.values() if a["corpid"] == corpid) >= MAX_ACCOUNTS:
                raise WeComError(95005)  # guess at the errcode for the account limit
            open_kfid = "wk" + secrets.token_hex(15)
            self.accounts[open_kfid] = {"corpid": corpid, "open_kfid": open_kfid, "name": name,
                                        "media_id": media_id}
            self.servicers[open_kfid] = {}
            return open_kfid

    def account(self, corpid: str, open_kfid: str) -> dict[str, Any]:
        """The account (caller may hold the lock or not: read-only dict access); 95004 if not this corp's."""
        account = self.accounts.get(open_kfid)
        if account is None or account["corpid"] != corpid:
            raise WeComError(95004)
        return account

    def update_account(self, corpid: str, open_kfid: str, changes: dict[str, str]) -> None:
        with self._lock:
            self.account(corpid, open_kfid).update(changes)

    def delete_account(self, corpid: str, open_kfid: str) -> None:
        with self._lock:
            self.account(corpid, open_kfid)
            del self.accounts[open_kfid]
            self.servicers.pop(open_kfid, None)

    def list_accounts(self, corpid: str, offset: int, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            mine = [a for a in self.accounts.values() if a["corpid"] == corpid]
            return [{"open_kfid": a["open_kfid"], "name": a["name"],
                     "avatar": f"https://wework.qpic.cn/fake/{a['media_id']}", "manage_privilege": True}
                    for a in mine[offset:offset + limit]]

    def add_contact_way(self, corpid: str, open_kfid: str, scene: str) -> str:
        with self._lock:
            self.account(corpid, open_kfid)
            url = f"https://work.weixin.qq.com/kfid/{open_kfid}"
            if scene:
                url += f"?enc_scene={scene}"
            self.contact_ways.append({"corpid": corpid, "open_kfid": open_kfid, "scene": scene, "url": url})
            return url

    # -- servicers ---------------------------------------------------------------------------------------

    def change_servicers(self, corpid: str, open_kfid: str, userids: list[str], members: set[str],
                         add: bool) -> list[dict[str, Any]]:
        """Per-user results, as kf/servicer/add|del answer them: 60111 for someone not in the corp."""
        with self._lock:
            self.account(corpid, open_kfid)
            current = self.servicers[open_kfid]
            results = []
            for userid in userids:
                if userid not in members:
                    results.append({"userid": userid, "errcode": 60111, "errmsg": "userid not found"})
                    continue
                if add:
                    current.setdefault(userid, 0)
                else:
                    current.pop(userid, None)
                results.append({"userid": userid, "errcode": 0, "errmsg": "success"})
            return results

    def list_servicers(self, corpid: str, open_kfid: str) -> list[dict[str, Any]]:
        with self._lock:
            self.account(corpid, open_kfid)
            return [{"userid": u, "status": s} for u, s in sorted(self.servicers[open_kfid].items())]

    # -- the feed and sync_msg ---------------------------------------------------------------------------

    def queue_messages(self, corpid: str, open_kfid: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Customers (and servicers) write, WeCom files the messages and events and issues a callback Token.

        Each item: ``{"external_userid", "text"}`` (a customer's text), with ``"servicer_userid"`` a
        servicer's reply, or ``{"external_userid", "event": {...}}`` a system event (servicer events have no
        external_userid); an ``enter_session`` event gets a fresh welcome_code unless it names one.
        """
        with self._lock:
            self.account(corpid, open_kfid)
            now = time.time()
            msgids, codes = [], []
            for item in items:
                msg = self._file(corpid, open_kfid, item, now)
                msgids.append(msg["msgid"])
                if msg.get("event", {}).get("welcome_code"):
                    codes.append(msg["event"]["welcome_code"])
            token = "ENC" + secrets.token_urlsafe(24)
            self.tokens[token] = (corpid, open_kfid, now + SYNC_TOKEN_TTL)
            return {"token": token, "msgids": msgids, "welcome_codes": codes}

    def _file(self, corpid: str, open_kfid: str, item: dict[str, Any], now: float) -> dict[str, Any]:
        external_userid = item.get("external_userid", "")  # servicer events name no customer
        msg: dict[str, Any] = {"msgid": new_msgid(), "open_kfid": open_kfid,
                               "external_userid": external_userid, "send_time": int(item.get("send_time", now))}
        conversation = self.conversations.setdefault((open_kfid, external_userid), Conversation(state=4)) \
            if external_userid else Conversation(state=4)
        if "event" in item:
            event = {"open_kfid": open_kfid, **item["event"]}
            if external_userid:
                event["external_userid"] = external_userid
            self._apply_event(corpid, open_kfid, event, conversation, now)
            msg.update(origin=4, msgtype="event", event=event)
        elif item.get("servicer_userid"):
            msg.update(origin=5, servicer_userid=item["servicer_userid"], msgtype="text",
                       text={"content": item["text"]})
        else:
            msg.update(origin=3, msgtype="text", text={"content": item["text"]})
            at = float(msg["send_time"])  # a test may file a message sent earlier
            conversation.lapse(at)
            if conversation.state == 4:
                conversation.reopen(at)
            conversation.last_customer_at = conversation.active_at = at
            conversation.sends_since_customer = 0
        self.feeds.setdefault((corpid, open_kfid), []).append(msg)
        return msg

    def _apply_event(self, corpid: str, open_kfid: str, event: dict[str, Any], conversation: Conversation,
                     now: float) -> None:
        """What a system event means on WeCom's side: a new session (with its welcome_code), a receptionist
        taking or ending a session in the WeCom client (session_status_change 1/2/4 and 3), a receptionist
        starting (1) or stopping (2) to receive (servicer_status_change)."""
        kind = event.get("event_type")
        if kind == "enter_session":
            event.setdefault("welcome_code", "wc" + secrets.token_hex(16))
            self.codes[event["welcome_code"]] = Code(corpid, open_kfid, event.get("external_userid", ""),
                                                     now + EVENT_CODE_TTL)
            conversation.lapse(now)
            if conversation.state == 4:
                conversation.reopen(now)
        elif kind == "session_status_change":
            if int(event.get("change_type", 0)) == 3:
                conversation.state, conversation.servicer = 4, ""
            else:
                conversation.state, conversation.servicer = 3, str(event.get("new_servicer_userid", ""))
        elif kind == "servicer_status_change" and event.get("servicer_userid") in self.servicers.get(open_kfid, {}):
            self.servicers[open_kfid][event["servicer_userid"]] = 0 if int(event.get("status", 1)) == 1 else 1

    def check_token(self, corpid: str, token: str) -> None:
        """A sync's Token, when it gives one, must be a live one from a callback of this corp (95007). Without
        a Token the call is allowed (WeCom throttles such calls harder; the fake does not count them)."""
        if not token:
            return
        with self._lock:
            issued = self.tokens.get(token)
        if issued is None or issued[0] != corpid or time.time() >= issued[2]:
            raise WeComError(95007)

    def page(self, corpid: str, open_kfid: str, cursor: str, limit: int) -> dict[str, Any]:
        """One sync_msg page after ``cursor`` (an opaque offset into this account's messages)."""
        with self._lock:
            self.account(corpid, open_kfid)
            mine = self.feeds.get((corpid, open_kfid), [])
            offset = _cursor_offset(cursor)
            size = min(limit, self.paging.page_size)
            chunk = mine[offset:offset + size]
            end, total = offset + len(chunk), len(mine)
            delay = 0.0
            index = offset // size + 1 if size else 1
            if self.paging.slow_page == index and self.paging.times > 0:
                self.paging.times -= 1
                delay = self.paging.delay
        if delay:
            time.sleep(delay)
        oldest = time.time() - SYNC_WINDOW
        msg_list = [copy.deepcopy(m) for m in chunk if m["send_time"] >= oldest]
        return {"next_cursor": _make_cursor(end), "has_more": 1 if end < total else 0, "msg_list": msg_list}

    def set_paging(self, paging: Paging) -> None:
        with self._lock:
            self.paging = paging

    # -- sending and service state -----------------------------------------------------------------------

    def send(self, corpid: str, open_kfid: str, external_userid: str, message: dict[str, Any]) -> str:
        """kf/send_msg: only in state 0/1 (95018, a guess at the errcode; 95013 once ended), within 48 h of the
        customer's last message (95002) and 5 times per customer message (95001). A msgid of our own is at
        most 32 bytes of [0-9a-zA-Z_-] and new for the account (40058; for a repeated one a guess)."""
        msgid = message.get("msgid")
        if msgid is not None and (not isinstance(msgid, str) or not MSGID_PATTERN.match(msgid)):
            raise WeComError(40058, "invalid msgid")
        msgid = msgid or None  # an empty msgid is none: WeCom makes one
        with self._lock:
            self.account(corpid, open_kfid)
            if msgid is not None and (open_kfid, msgid) in self.sent_msgids:
                raise WeComError(40058, "msgid already used")
            conversation = self.conversations.get((open_kfid, external_userid))
            if conversation is not None:
                conversation.lapse(time.time())
            if conversation is None or conversation.state == 4:
                raise WeComError(95013)
            if conversation.state not in (0, 1):
                raise WeComError(95018)
            if time.time() - conversation.last_customer_at > REPLY_WINDOW:
                raise WeComError(95002)
            if conversation.sends_since_customer >= MAX_SENDS_PER_CUSTOMER_MESSAGE:
                raise WeComError(95001)
            conversation.sends_since_customer += 1
            if msgid is not None:
                self.sent_msgids.add((open_kfid, msgid))
            return self._record_sent(corpid, open_kfid, external_userid, message, "send_msg")

    def send_on_event(self, corpid: str, code: str, message: dict[str, Any]) -> str:
        """kf/send_msg_on_event: the code must be this corp's, unused, alive, and (but a welcome_code) used while
        the session is in the state it came with; a queue or pick-up code takes text only (40008). WeCom
        documents no errcode for a spent, expired or out-of-state code; 40058 (invalid parameter) is a guess."""
        with self._lock:
            issued = self.codes.get(code)
            if issued is None or issued.corpid != corpid or issued.used or time.time() >= issued.expires_at:
                raise WeComError(40058)
            if message.get("msgtype") not in issued.msgtypes:
                raise WeComError(40008)
            if issued.state is not None:
                conversation = self.conversations.get((issued.open_kfid, issued.external_userid))
                if conversation is None or conversation.state != issued.state:
                    raise WeComError(40058, "the session left the state of this code")
            issued.used = True
            return self._record_sent(corpid, issued.open_kfid, issued.external_userid, message, "send_msg_on_event")

    def _record_sent(self, corpid: str, open_kfid: str, external_userid: str, message: dict[str, Any],
                     via: str) -> str:
        msgid = message.get("msgid") or new_msgid()
        self.sent.append({"corpid": corpid, "open_kfid": open_kfid, "external_userid": external_userid,
                          "via": via, "msgid": msgid, "msgtype": message.get("msgtype"),
                          "text": (message.get("text") or {}).get("content", "")})
        return str(msgid)

    def service_state(self, corpid: str, open_kfid: str, external_userid: str) -> Conversation:
        with self._lock:
            self.account(corpid, open_kfid)
            found = self.conversations.get((open_kfid, external_userid))
            return copy.copy(found) if found else Conversation(state=4)

    def trans(self, corpid: str, open_kfid: str, external_userid: str, state: int, servicer: str) -> str:
        """kf/service_state/trans by doc 94669's table: 95013 for a session that ended (or never began),
        95016 for a move the table does not list, 95014 for a receptionist who is not a receiving servicer
        of the account. The session's first move into 2 or 3 returns a msg_code that lives 48 h (later
        moves return none); the end (3 → 4) returns the end message's code, which lives 20 s."""
        with self._lock:
            self.account(corpid, open_kfid)
            now = time.time()
            conversation = self.conversations.get((open_kfid, external_userid))
            if conversation is not None:
                conversation.lapse(now)
            if conversation is None or conversation.state == 4:
                raise WeComError(95013)
            if state not in TRANSITIONS[conversation.state]:
                raise WeComError(95016)
            if state == 3 and self.servicers.get(open_kfid, {}).get(servicer) != 0:
                raise WeComError(95014)
            conversation.state = state
            conversation.servicer = servicer if state == 3 else ""
            if state == 4:
                ttl = EVENT_CODE_TTL
            elif state in (2, 3) and not conversation.reply_code_given:
                conversation.reply_code_given, ttl = True, REPLY_CODE_TTL
            else:
                return ""
            code = "mc" + secrets.token_hex(16)
            self.codes[code] = Code(corpid, open_kfid, external_userid, now + ttl, state,
                                    TEXT_OR_MENU if state == 4 else TEXT_ONLY)
            return code

    def snapshot(self) -> dict[str, Any]:
        """What /fake/kf/state shows tests."""
        with self._lock:
            return {
                "accounts": [{k: v for k, v in a.items()} for a in self.accounts.values()],
                "servicers": {k: dict(v) for k, v in self.servicers.items()},
                "contact_ways": copy.deepcopy(self.contact_ways),
                "conversations": [{"open_kfid": k[0], "external_userid": k[1], "service_state": c.state,
                                   "servicer_userid": c.servicer} for k, c in self.conversations.items()],
                "sent": copy.deepcopy(self.sent),
            }


def _make_cursor(offset: int) -> str:
    return f"c{offset:x}" if offset else ""


def _cursor_offset(cursor: str) -> int:
    """The offset a cursor stands for; a cursor this fake never issued is 40058 (guess)."""
    if not cursor:
        return 0
    try:
        if not cursor.startswith("c"):
            raise ValueError(cursor)
        return int(cursor[1:], 16)
    except ValueError:
        raise WeComError(40058) from None
