"""The fake's hand-over endpoints (客户继承): externalcontact/get_unassigned_list (cursor paging),
transfer_customer and resigned/transfer_customer (per-customer errcodes), transfer_result and
resigned/transfer_result (statuses that change over time: a control route advances them), groupchat/transfer
and groupchat/onjob_transfer (≤100 chats a call, ≤300 chats a day per old owner), with their own state and
control routes.

Errcodes: per-customer codes are from WeCom's global table (doc 90313) as docs/PROTOCOL.md lists them: 40096
unknown customer, 40097 member not resigned, 40098 taker not verified, 40100 already being transferred,
40128 transferred too often (twice in 90 days already, counting those waiting or done: refused ones
do not count, as the service's own rule, handlers/transfers.py); 84061 no such relation. Over 100 ids, or a
transfer_success_msg over 200 characters, answers 40058 (the docs state the limits, not their errcode: a
guess, as for the other modules' limits). A chat over the owner's daily cap fails in failed_chat_list with
45009 (also a guess: the docs give the cap, not its errcode)."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from flask import Flask, request

from wecom.fake.call import Call, bad_request, body_ids, body_object, body_str, corpid_of
from wecom.fake.errors import WeComError
from wecom.fake.sender import render_sample

MAX_IDS = 100
MAX_MESSAGE_CHARS = 200
GROUP_DAILY_CAP = 300
CAP_ERRCODE = 45009
TAKEOVER_SECONDS = 24 * 3600  # the customer has 24 h to refuse; then WeCom hands them over
RESULT_PAGE = 1000
UNASSIGNED_PAGE = 1000
NINETY_DAYS = 90 * 86400
WAITING, DONE, REFUSED, LIMIT = 2, 1, 3, 4


class TransfersState:
    """What WeCom knows of hand-overs, by corp; its own lock. `day` is the fake's day counter for the
    group cap (a control route moves it on)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear()

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._unassigned: dict[str, list[dict[str, Any]]] = {}
        self._results: dict[tuple[str, str, str, str], dict[str, Any]] = {}  # (corp, kind, ext, taker)
        self._history: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (corp, ext) -> its hand-overs
        self._refusals: dict[tuple[str, str], int] = {}  # (corp, ext or chat) -> errcode to answer
        self._group_counts: dict[tuple[str, str, int], int] = {}  # (corp, old owner, day) -> chats moved
        self._day = 0

    def set_unassigned(self, corpid: str, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._unassigned[corpid] = [dict(r) for r in rows]

    def unassigned(self, corpid: str, offset: int, size: int) -> tuple[list[dict[str, Any]], bool]:
        with self._lock:
            rows = self._unassigned.get(corpid, [])
            return [dict(r) for r in rows[offset:offset + size]], offset + size >= len(rows)

    def refuse(self, corpid: str, ids: dict[str, int]) -> None:
        with self._lock:
            for key, errcode in ids.items():
                self._refusals[(corpid, key)] = errcode

    def transfer(self, corpid: str, kind: str, handover: str, taker: str, ids: list[str]) -> list[dict[str, Any]]:
        """Each customer's errcode; 0 starts the 24 h wait."""
        now = time.time()
        out = []
        with self._lock:
            for ext in ids:
                errcode = self._refusals.get((corpid, ext), 0)
                history = [r for r in self._history.get((corpid, ext), [])
                           if now - r["at"] < NINETY_DAYS and r["status"] in (WAITING, DONE)]
                if not errcode and any(r["status"] == WAITING and k[2] == ext for k, r in self._results.items()
                                       if k[0] == corpid):
                    errcode = 40100
                if not errcode and len(history) >= 2:
                    errcode = 40128
                if not errcode:
                    record = {"external_userid": ext, "handover_userid": handover, "status": WAITING,
                              "takeover_time": int(now) + TAKEOVER_SECONDS, "at": now}
                    self._history[(corpid, ext)] = [*history, record]
                    self._results[(corpid, kind, ext, taker)] = record
                    if kind == "resigned":
                        self._unassigned[corpid] = [r for r in self._unassigned.get(corpid, [])
                                                    if r["external_userid"] != ext]
                out.append({"external_userid": ext, "errcode": errcode})
        return out

    def results(self, corpid: str, kind: str, handover: str, taker: str) -> list[dict[str, Any]]:
        with self._lock:
            return [{"external_userid": k[2], "status": r["status"], "takeover_time": r["takeover_time"]}
                    for k, r in self._results.items()
                    if k[:2] == (corpid, kind) and k[3] == taker and r["handover_userid"] == handover]

    def advance(self, corpid: str, status: int, external_userid: str | None) -> list[dict[str, Any]]:
        """Waiting hand-overs (all, or one customer's) become `status`; returns those changed."""
        changed = []
        with self._lock:
            for key, row in self._results.items():
                if key[0] == corpid and row["status"] == WAITING and external_userid in (None, key[2]):
                    row["status"] = status
                    if status == DONE:
                        row["takeover_time"] = int(time.time())
                    changed.append({"external_userid": key[2], "takeover_userid": key[3]})
        return changed

    def move_groups(self, corpid: str, owner_of: dict[str, str], chats: list[str]) -> list[dict[str, Any]]:
        """Failed chats ([] when all moved), counting each old owner's chats against today's cap."""
        failed = []
        with self._lock:
            for chat in chats:
                errcode = self._refusals.get((corpid, chat), 0)
                key = (corpid, owner_of.get(chat, ""), self._day)
                if not errcode and self._group_counts.get(key, 0) >= GROUP_DAILY_CAP:
                    errcode = CAP_ERRCODE
                if errcode:
                    failed.append({"chat_id": chat, "errcode": errcode, "errmsg": "failed"})
                else:
                    self._group_counts[key] = self._group_counts.get(key, 0) + 1
        return failed

    def next_day(self) -> int:
        with self._lock:
            self._day += 1
            return self._day


def _cursor(body: dict[str, Any]) -> int:
    cursor = body.get("cursor") or ""
    if not isinstance(cursor, str) or (cursor and not cursor.isdigit()):
        raise WeComError(40058, "invalid cursor")
    return int(cursor or 0)


def _ids(body: dict[str, Any], key: str) -> list[str]:
    ids = body_ids(body, key)
    if not ids or len(ids) > MAX_IDS:
        raise WeComError(40058, f"{key}: 1 to {MAX_IDS} ids")
    return ids


class _Server(Protocol):
    state: Any  # FakeState, whose `transfers` is a TransfersState


def _store(server: _Server) -> TransfersState:
    store: TransfersState = server.state.transfers
    return store


def get_unassigned_list(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    offset = _cursor(body)
    size = body.get("page_size", UNASSIGNED_PAGE)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= UNASSIGNED_PAGE:
        raise WeComError(40058, "page_size: 1 to 1000")
    rows, last = _store(server).unassigned(corpid_of(call), offset, size)
    return {"info": rows, "is_last": last, "next_cursor": "" if last else str(offset + size)}


def _transfer(server: _Server, call: Call, kind: str) -> dict[str, Any]:
    body = body_object(call)
    handover, taker = body_str(body, "handover_userid", 40003), body_str(body, "takeover_userid", 40003)
    ids = _ids(body, "external_userid")
    message = body.get("transfer_success_msg", "")
    if kind == "serving" and (not isinstance(message, str) or len(message) > MAX_MESSAGE_CHARS):
        raise WeComError(40058, "transfer_success_msg: at most 200 characters")
    return {"customer": _store(server).transfer(corpid_of(call), kind, handover, taker, ids)}


def transfer_customer(server: _Server, call: Call) -> dict[str, Any]:
    return _transfer(server, call, "serving")


def resigned_transfer_customer(server: _Server, call: Call) -> dict[str, Any]:
    return _transfer(server, call, "resigned")


def _result(server: _Server, call: Call, kind: str) -> dict[str, Any]:
    body = body_object(call)
    handover, taker = body_str(body, "handover_userid", 40003), body_str(body, "takeover_userid", 40003)
    offset = _cursor(body)
    rows = _store(server).results(corpid_of(call), kind, handover, taker)
    more = offset + RESULT_PAGE < len(rows)
    return {"customer": rows[offset:offset + RESULT_PAGE], "next_cursor": str(offset + RESULT_PAGE) if more else ""}


def transfer_result(server: _Server, call: Call) -> dict[str, Any]:
    return _result(server, call, "serving")


def resigned_transfer_result(server: _Server, call: Call) -> dict[str, Any]:
    return _result(server, call, "resigned")


def groupchat_transfer(server: _Server, call: Call) -> dict[str, Any]:
    """groupchat/transfer and onjob_transfer share a shape: chat_id_list and new_owner. The fake knows no
    groups, so the old owner whose daily cap a chat counts against is `old_owner` (a field of the fake's
    own; the service sends it, WeCom ignores unknown fields)."""
    body = body_object(call)
    chats = _ids(body, "chat_id_list")
    body_str(body, "new_owner", 40003)
    owner = str(body["old_owner"]) if isinstance(body.get("old_owner"), str) else ""
    return {"failed_chat_list": _store(server).move_groups(corpid_of(call), dict.fromkeys(chats, owner), chats)}


ENDPOINTS = {
    "externalcontact/get_unassigned_list": get_unassigned_list,
    "externalcontact/transfer_customer": transfer_customer,
    "externalcontact/resigned/transfer_customer": resigned_transfer_customer,
    "externalcontact/transfer_result": transfer_result,
    "externalcontact/resigned/transfer_result": resigned_transfer_result,
    "externalcontact/groupchat/transfer": groupchat_transfer,
    "externalcontact/groupchat/onjob_transfer": groupchat_transfer,
}
"""Path → handler; all POST (server.py adds them to its table)."""


def add_transfer_control_routes(app: Flask, store: TransfersState) -> None:
    """POST /fake/unassigned {corpid, info}: the resigned members' customers WeCom lists; POST
    /fake/transfers/refuse {corpid, ids: {external_userid or chat_id: errcode}}; POST /fake/transfers/advance
    {corpid, status 1|3|4, external_userid?}; POST /fake/transfers/fail {corpid, external_userid, reason
    customer_refused|customer_limit_exceed}: the hand-over fails (3 or 4) and the answer carries the
    transfer_fail callback's XML for the test to post (the fake holds no callback keys); POST
    /fake/transfers/next_day: a new day for the group cap."""

    def _json() -> dict[str, Any]:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @app.post("/fake/unassigned")
    def set_unassigned() -> Any:
        data = _json()
        if not isinstance(data.get("corpid"), str) or not isinstance(data.get("info"), list):
            return bad_request("corpid and info required")
        store.set_unassigned(data["corpid"], data["info"])
        return {"ok": True}

    @app.post("/fake/transfers/refuse")
    def refuse() -> Any:
        data = _json()
        if not isinstance(data.get("corpid"), str) or not isinstance(data.get("ids"), dict):
            return bad_request("corpid and ids required")
        store.refuse(data["corpid"], {str(k): int(v) for k, v in data["ids"].items()})
        return {"ok": True}

    @app.post("/fake/transfers/advance")
    def advance() -> Any:
        data = _json()
        if not isinstance(data.get("corpid"), str) or data.get("status") not in (DONE, REFUSED, LIMIT):
            return bad_request("corpid and status 1, 3 or 4 required")
        return {"changed": store.advance(data["corpid"], data["status"], data.get("external_userid"))}

    @app.post("/fake/transfers/fail")
    def fail() -> Any:
        data = _json()
        reasons = {"customer_refused": REFUSED, "customer_limit_exceed": LIMIT}
        if not isinstance(data.get("corpid"), str) or not isinstance(data.get("external_userid"), str) \
                or data.get("reason") not in reasons:
            return bad_request("corpid, external_userid and reason customer_refused|customer_limit_exceed required")
        changed = store.advance(data["corpid"], reasons[data["reason"]], data["external_userid"])
        if not changed:
            return bad_request("no waiting hand-over of that customer")
        xml = render_sample("change_external_contact/transfer_fail", data["corpid"], FailReason=data["reason"],
                            UserID=changed[0]["takeover_userid"], ExternalUserID=data["external_userid"])
        return {"xml": xml}

    @app.post("/fake/transfers/next_day")
    def next_day() -> Any:
        return {"day": store.next_day()}
