"""The fake's corp mass messages (企业群发): externalcontact/add_msg_template, get_groupmsg_list_v2,
get_groupmsg_task, get_groupmsg_send_result, remind_groupmsg_send and cancel_groupmsg_send, with their own
state and control routes.

Limits, from WeCom's add_msg_template page (doc 92135) as SDKs transcribe it (WxJava WxCpMsgTemplate,
Mud.Wechat AddGroupMsgTemplateRequest): external_userid at most 10,000 per call, chat_id_list at most 2,000,
text at most 4,000 bytes, at most 9 attachments of msgtype image, link, miniprogram, video or file, text and
attachments not both empty; each customer receives at most MONTHLY_CAP corp messages a month (WeCom's "4 条"
at the time the manual was written; its newer wording is the month's number of days). The result APIs (doc
93338): get_groupmsg_list_v2 limit ≤100 (default 50), get_groupmsg_task and get_groupmsg_send_result limit
≤1,000 (default 500), "超过最大值时取默认值"; task status 0 unsent / 2 sent; send_result status 0 unsent, 1
sent, 2 not a friend, 3 over the receive limit. remind_groupmsg_send (doc 97610): at most 3 reminders per
message in 24 h.

The docs give no errcode for a list over its limit or a fourth reminder: the fake answers 40058 (invalid
parameter) for the first and 45009 for the second, guesses as in the other modules; 45002 for text over 4,000
bytes, 44004 for an empty message and 41065 for an unknown attachment type (global table, doc 90313).

Each call makes one msgid: one sender's task. A member confirms sending in the WeCom client; tests play that
with POST /fake/groupmsg/confirm."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Protocol

from flask import Flask, request

from wecom.fake.call import Call, bad_request, body_ids, body_object, body_str, corpid_of
from wecom.fake.errors import WeComError

MAX_CUSTOMERS = 10_000
MAX_CHATS = 2_000
MAX_TEXT_BYTES = 4_000
MAX_ATTACHMENTS = 9
ATTACHMENT_TYPES = frozenset({"image", "link", "miniprogram", "video", "file"})
MONTHLY_CAP = 4
LIST_LIMIT, LIST_DEFAULT = 100, 50
TASK_LIMIT, TASK_DEFAULT = 1000, 500
REMINDS_PER_DAY = 3
UNSENT, SENT, NOT_FRIEND, OVER_LIMIT = 0, 1, 2, 3
TASK_SENT = 2


class GroupMsgState:
    """Messages by msgid, what each customer received this month, customers who are no longer friends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._clear()

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._msgs: dict[str, dict[str, Any]] = {}
        self._received: dict[tuple[str, str], int] = {}
        self._strangers: set[tuple[str, str]] = set()
        self.cap = MONTHLY_CAP

    def add(self, corpid: str, chat_type: str, sender: str, targets: list[str], text: dict[str, Any] | None,
            attachments: list[Any]) -> tuple[str, list[str]]:
        """A new task: (msgid, fail_list). Customers who are no friend of WeCom's or at the monthly cap fail."""
        with self._lock:
            msgid = f"msg{next(self._seq):08d}{corpid[-4:]}"
            failed = [] if chat_type == "group" else [
                t for t in targets if (corpid, t) in self._strangers or self._received.get((corpid, t), 0) >= self.cap]
            left = set(failed)
            self._msgs[msgid] = {"corpid": corpid, "chat_type": chat_type, "sender": sender, "text": text,
                                 "attachments": attachments, "create_time": int(time.time()),
                                 "targets": {t: UNSENT for t in targets if t not in left}, "send_time": None,
                                 "cancelled": False, "reminds": []}
            return msgid, failed

    def message(self, corpid: str, msgid: str) -> dict[str, Any]:
        msg = self._msgs.get(msgid)
        if msg is None or msg["corpid"] != corpid:
            raise WeComError(40058, "invalid msgid")
        return msg

    def listed(self, corpid: str, chat_type: str, start: int, end: int) -> list[dict[str, Any]]:
        with self._lock:
            return [{"msgid": msgid, "creator": "", "create_type": 0, "text": m["text"],
                     "attachments": m["attachments"], "create_time": m["create_time"]}
                    for msgid, m in self._msgs.items()
                    if m["corpid"] == corpid and m["chat_type"] == chat_type and start <= m["create_time"] <= end]

    def task(self, corpid: str, msgid: str) -> list[dict[str, Any]]:
        with self._lock:
            msg = self.message(corpid, msgid)
            row: dict[str, Any] = {"userid": msg["sender"], "status": TASK_SENT if msg["send_time"] else 0}
            if msg["send_time"]:
                row["send_time"] = msg["send_time"]
            return [row]

    def results(self, corpid: str, msgid: str, userid: str) -> list[dict[str, Any]]:
        with self._lock:
            msg = self.message(corpid, msgid)
            if msg["sender"] != userid:
                return []
            key = "chat_id" if msg["chat_type"] == "group" else "external_userid"
            return [{key: target, "userid": userid, "status": status,
                     **({"send_time": msg["send_time"]} if status == SENT else {})}
                    for target, status in msg["targets"].items()]

    def remind(self, corpid: str, msgid: str) -> None:
        with self._lock:
            msg = self.message(corpid, msgid)
            now = time.time()
            msg["reminds"] = [at for at in msg["reminds"] if now - at < 86400]
            if len(msg["reminds"]) >= REMINDS_PER_DAY:
                raise WeComError(45009, "at most 3 reminders per message in 24 hours")
            msg["reminds"].append(now)

    def cancel(self, corpid: str, msgid: str) -> None:
        with self._lock:
            self.message(corpid, msgid)["cancelled"] = True

    def confirm(self, corpid: str, sender: str, msgid: str | None, strangers: set[str]) -> int:
        """The member sends their open tasks (one, or all): each customer receives it (1), except those no
        longer friends (2) or at the monthly cap by now (3). Returns how many tasks were sent."""
        with self._lock:
            sent = 0
            for key, msg in self._msgs.items():
                if msg["corpid"] != corpid or msg["sender"] != sender or msg["cancelled"] or msg["send_time"] \
                        or msgid not in (None, key):
                    continue
                msg["send_time"] = int(time.time())
                for target in msg["targets"]:
                    count = self._received.get((corpid, target), 0)
                    if target in strangers:
                        msg["targets"][target] = NOT_FRIEND
                    elif msg["chat_type"] == "single" and count >= self.cap:
                        msg["targets"][target] = OVER_LIMIT
                    else:
                        msg["targets"][target] = SENT
                        self._received[(corpid, target)] = count + 1
                sent += 1
            return sent

    def estrange(self, corpid: str, ids: list[str]) -> None:
        with self._lock:
            self._strangers |= {(corpid, i) for i in ids}


class _Server(Protocol):
    state: Any  # FakeState, whose `groupmsg` is a GroupMsgState


def _store(server: _Server) -> GroupMsgState:
    store: GroupMsgState = server.state.groupmsg
    return store


def _limit(body: dict[str, Any], most: int, default: int) -> int:
    """WeCom takes the default for a limit past its maximum (doc 93338)."""
    value = body.get("limit", default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > most:
        return default
    return value


def _page(body: dict[str, Any], rows: list[dict[str, Any]], size: int, key: str) -> dict[str, Any]:
    cursor = body.get("cursor") or ""
    if not isinstance(cursor, str) or (cursor and not cursor.isdigit()):
        raise WeComError(40058, "invalid cursor")
    offset = int(cursor or 0)
    more = offset + size < len(rows)
    return {key: rows[offset:offset + size], "next_cursor": str(offset + size) if more else ""}


def _attachments(body: dict[str, Any]) -> list[Any]:
    items = body.get("attachments") or []
    if not isinstance(items, list) or len(items) > MAX_ATTACHMENTS:
        raise WeComError(40058, f"attachments: at most {MAX_ATTACHMENTS}")
    for item in items:
        kind = item.get("msgtype") if isinstance(item, dict) else None
        if kind not in ATTACHMENT_TYPES or not isinstance(item.get(kind), dict):
            raise WeComError(41065)
    return items


def add_msg_template(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    chat_type = body.get("chat_type") or "single"
    if chat_type not in ("single", "group"):
        raise WeComError(40058, "chat_type: single or group")
    sender = body_str(body, "sender", 41009)  # WeCom allows none for single; the fake needs whose task it is
    text = body.get("text")
    content = text.get("content", "") if isinstance(text, dict) else ""
    if not isinstance(content, str) or len(content.encode()) > MAX_TEXT_BYTES:
        raise WeComError(45002, f"text.content: at most {MAX_TEXT_BYTES} bytes")
    attachments = _attachments(body)
    if not content and not attachments:
        raise WeComError(44004)
    key, most = ("chat_id_list", MAX_CHATS) if chat_type == "group" else ("external_userid", MAX_CUSTOMERS)
    targets = body_ids(body, key)
    if len(targets) > most:
        raise WeComError(40058, f"{key}: at most {most}")
    if not targets and chat_type == "single":
        raise WeComError(41035)
    msgid, failed = _store(server).add(corpid_of(call), chat_type, sender, targets,
                                       text if content else None, attachments)
    return {"fail_list": failed, "msgid": msgid}


def get_groupmsg_list_v2(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    start, end = body.get("start_time"), body.get("end_time")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= end - start <= 31 * 86400:
        raise WeComError(40058, "start_time and end_time at most a month apart")
    rows = _store(server).listed(corpid_of(call), body.get("chat_type") or "single", start, end)
    return _page(body, rows, _limit(body, LIST_LIMIT, LIST_DEFAULT), "group_msg_list")


def get_groupmsg_task(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    rows = _store(server).task(corpid_of(call), body_str(body, "msgid", 40058))
    return _page(body, rows, _limit(body, TASK_LIMIT, TASK_DEFAULT), "task_list")


def get_groupmsg_send_result(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    rows = _store(server).results(corpid_of(call), body_str(body, "msgid", 40058), body_str(body, "userid", 41009))
    return _page(body, rows, _limit(body, TASK_LIMIT, TASK_DEFAULT), "send_list")


def remind_groupmsg_send(server: _Server, call: Call) -> dict[str, Any]:
    _store(server).remind(corpid_of(call), body_str(body_object(call), "msgid", 40058))
    return {}


def cancel_groupmsg_send(server: _Server, call: Call) -> dict[str, Any]:
    _store(server).cancel(corpid_of(call), body_str(body_object(call), "msgid", 40058))
    return {}


ENDPOINTS = {
    "externalcontact/add_msg_template": add_msg_template,
    "externalcontact/get_groupmsg_list_v2": get_groupmsg_list_v2,
    "externalcontact/get_groupmsg_task": get_groupmsg_task,
    "externalcontact/get_groupmsg_send_result": get_groupmsg_send_result,
    "externalcontact/remind_groupmsg_send": remind_groupmsg_send,
    "externalcontact/cancel_groupmsg_send": cancel_groupmsg_send,
}
"""Path → handler; all POST (server.py adds them to its table)."""


def add_groupmsg_control_routes(app: Flask, store: GroupMsgState) -> None:
    """POST /fake/groupmsg/confirm {corpid, sender, msgid?, not_friend?: [external_userid]}: the member sends
    their open tasks (or one) in the WeCom client; POST /fake/groupmsg/estrange {corpid, external_userids}:
    these customers are no longer friends (in the next calls' fail_list); POST /fake/groupmsg/cap {cap}."""

    def _json() -> dict[str, Any]:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @app.post("/fake/groupmsg/confirm")
    def confirm() -> Any:
        data = _json()
        if not isinstance(data.get("corpid"), str) or not isinstance(data.get("sender"), str):
            return bad_request("corpid and sender required")
        strangers = set(data.get("not_friend") or [])
        return {"sent": store.confirm(data["corpid"], data["sender"], data.get("msgid"), strangers)}

    @app.post("/fake/groupmsg/estrange")
    def estrange() -> Any:
        data = _json()
        if not isinstance(data.get("corpid"), str) or not isinstance(data.get("external_userids"), list):
            return bad_request("corpid and external_userids required")
        store.estrange(data["corpid"], [str(i) for i in data["external_userids"]])
        return {"ok": True}

    @app.post("/fake/groupmsg/cap")
    def cap() -> Any:
        value = _json().get("cap")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return bad_request("cap: a number")
        store.cap = value
        return {"ok": True}
