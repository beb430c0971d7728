"""The fake's WeChat customer service (微信客服) endpoints and the control routes that play the customers'
side: queue messages and events for an account (which issues the callback Token), tune sync_msg paging,
and read what WeCom would now show.

Handlers read and check the request into plain values; :class:`wecom.fake.kf_state.KfState` applies the rules
that need shared data. ``server.py`` lists the handlers in its ``ENDPOINTS`` table.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from flask import Flask, Response, request

from wecom.fake.call import Call, bad_request, body_ids, body_int, body_object, body_str, corpid_of, query_arg
from wecom.fake.errors import WeComError
from wecom.fake.kf_state import Paging
from wecom.fake.media import check_message_media
from wecom.fake.state import FakeState

MAX_NAME_CHARS = 16
"""Doc 94662: an account name is at most 16 characters (95006 beyond, our guess at its errcode)."""

SCENE_PATTERN = re.compile(r"^[0-9A-Za-z_-]{0,32}\Z")
"""Doc 94665: scene is at most 32 bytes of [0-9a-zA-Z_-] (40058 otherwise, guess)."""

MAX_SERVICERS_PER_CALL = 100
"""Doc 94646: userid_list holds 1 to 100 userids."""

MAX_SYNC_LIMIT = 1000
"""docs/PROTOCOL.md §4: sync_msg's limit defaults to and is at most 1000."""

KF_MSGTYPES = frozenset({"text", "image", "voice", "video", "file", "link", "miniprogram", "msgmenu", "location"})
"""The msgtypes kf/send_msg accepts (doc 94677); others answer 40008."""

EVENT_MSGTYPES = frozenset({"text", "msgmenu"})
"""send_msg_on_event sends only text and msgmenu (its doc page, 发送欢迎语等事件响应消息); others answer 40008."""

MAX_TEXT_BYTES = 2048
"""text.content is at most 2048 bytes in send_msg and send_msg_on_event; 45002 beyond (global errcode table:
消息内容大小超过限制, 文本消息最长不超过2048个字节)."""


class _Server(Protocol):
    state: FakeState


# -- accounts -----------------------------------------------------------------------------------------------

def account_add(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    name = _name(body_str(body, "name", 95006))
    media_id = body_str(body, "media_id", 40058)
    server.state.media.check(corpid_of(call), media_id)
    return {"open_kfid": server.state.kf.add_account(corpid_of(call), name, media_id)}


def account_update(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    open_kfid = body_str(body, "open_kfid", 95000)
    changes: dict[str, str] = {}
    if "name" in body:
        changes["name"] = _name(body_str(body, "name", 95006))
    if "media_id" in body:
        changes["media_id"] = body_str(body, "media_id", 40058)
        server.state.media.check(corpid_of(call), changes["media_id"])
    server.state.kf.update_account(corpid_of(call), open_kfid, changes)
    return {}


def account_del(server: _Server, call: Call) -> dict[str, Any]:
    server.state.kf.delete_account(corpid_of(call), body_str(body_object(call), "open_kfid", 95000))
    return {}


def account_list(server: _Server, call: Call) -> dict[str, Any]:
    body = call.body if isinstance(call.body, dict) else {}
    offset, limit = body_int(body, "offset", 0), body_int(body, "limit", 100)
    if offset < 0 or not 1 <= limit <= 100:
        raise WeComError(40058)
    return {"account_list": server.state.kf.list_accounts(corpid_of(call), offset, limit)}


def add_contact_way(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    open_kfid = body_str(body, "open_kfid", 95000)
    scene = body.get("scene", "")
    if not isinstance(scene, str) or not SCENE_PATTERN.match(scene):
        raise WeComError(40058)
    return {"url": server.state.kf.add_contact_way(corpid_of(call), open_kfid, scene)}


def _name(name: str) -> str:
    if len(name) > MAX_NAME_CHARS:
        raise WeComError(95006)
    return name


# -- servicers ----------------------------------------------------------------------------------------------

def servicer_add(server: _Server, call: Call) -> dict[str, Any]:
    return _change_servicers(server, call, add=True)


def servicer_del(server: _Server, call: Call) -> dict[str, Any]:
    return _change_servicers(server, call, add=False)


def _change_servicers(server: _Server, call: Call, add: bool) -> dict[str, Any]:
    body = body_object(call)
    open_kfid = body_str(body, "open_kfid", 95000)
    userids = body_ids(body, "userid_list")
    if not 1 <= len(userids) <= MAX_SERVICERS_PER_CALL:
        raise WeComError(40058)
    corpid = corpid_of(call)
    members = {userid for userid in userids if server.state.user(corpid, userid) is not None}
    return {"result_list": server.state.kf.change_servicers(corpid, open_kfid, userids, members, add)}


def servicer_list(server: _Server, call: Call) -> dict[str, Any]:
    open_kfid = query_arg(call, "open_kfid", 95000)
    return {"servicer_list": server.state.kf.list_servicers(corpid_of(call), open_kfid)}


# -- messages -----------------------------------------------------------------------------------------------

def sync_msg(server: _Server, call: Call) -> dict[str, Any]:
    """One page of the account's messages after ``cursor``. The callback's ``token`` is optional; one that is
    not a live token of this corp is 95007."""
    body = body_object(call)
    corpid = corpid_of(call)
    open_kfid = body_str(body, "open_kfid", 95000)
    token = body.get("token", "")
    if not isinstance(token, str):
        raise WeComError(40058)
    server.state.kf.check_token(corpid, token)
    cursor = body.get("cursor", "")
    limit = body_int(body, "limit", MAX_SYNC_LIMIT)
    if not isinstance(cursor, str) or len(cursor.encode()) > 64 or not 1 <= limit <= MAX_SYNC_LIMIT:
        raise WeComError(40058)
    return server.state.kf.page(corpid, open_kfid, cursor, limit)


def send_msg(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    touser = body_str(body, "touser", 40058)
    open_kfid = body_str(body, "open_kfid", 95000)
    _check_message(body)
    check_message_media(server, corpid_of(call), body)
    return {"msgid": server.state.kf.send(corpid_of(call), open_kfid, touser, body)}


def send_msg_on_event(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    code = body_str(body, "code", 40058)
    if body.get("msgtype") not in EVENT_MSGTYPES:
        raise WeComError(40008)
    _check_message(body)
    return {"msgid": server.state.kf.send_on_event(corpid_of(call), code, body)}


def _check_message(body: dict[str, Any]) -> None:
    msgtype = body.get("msgtype")
    if msgtype not in KF_MSGTYPES:
        raise WeComError(40008) if msgtype else WeComError(40058)
    if msgtype == "text":
        text = body.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise WeComError(44004)
        if len(content.encode()) > MAX_TEXT_BYTES:
            raise WeComError(45002)


def service_state_get(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    conversation = server.state.kf.service_state(corpid_of(call), body_str(body, "open_kfid", 95000),
                                                 body_str(body, "external_userid", 40058))
    return {"service_state": conversation.state, "servicer_userid": conversation.servicer}


def service_state_trans(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    state = body_int(body, "service_state", -1)
    if state not in (0, 1, 2, 3, 4):
        raise WeComError(40058)
    servicer = body.get("servicer_userid") or ""
    if not isinstance(servicer, str):
        raise WeComError(40058)
    code = server.state.kf.trans(corpid_of(call), body_str(body, "open_kfid", 95000),
                                 body_str(body, "external_userid", 40058), state, servicer)
    return {"msg_code": code} if code else {}


# -- control routes ------------------------------------------------------------------------------------------

def add_kf_control_routes(app: Flask, state: FakeState) -> None:
    """Register /fake/kf/...: customers writing (POST messages), paging knobs, and WeCom's view of it all."""

    @app.post("/fake/kf/messages")
    def queue_messages() -> dict[str, Any] | tuple[Response, int]:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or not all(isinstance(spec.get(k), str) and spec[k]
                                                 for k in ("corpid", "open_kfid")):
            return bad_request("messages need non-empty strings 'corpid' and 'open_kfid'")
        items = spec.get("messages")
        if not isinstance(items, list) or not items or not all(_valid_item(item) for item in items):
            return bad_request("'messages' is a non-empty list of {external_userid, text[, servicer_userid]} "
                               "or {[external_userid, ]event: {event_type, ...}}")
        try:
            return state.kf.queue_messages(spec["corpid"], spec["open_kfid"], items)
        except WeComError as error:  # the account does not exist: a test mistake, say so
            return bad_request(str(error))

    @app.post("/fake/kf/paging")
    def set_paging() -> dict[str, Any] | tuple[Response, int]:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict):
            return bad_request("paging needs a JSON object")
        size, slow, delay, times = (spec.get("page_size", 1000), spec.get("slow_page"), spec.get("delay", 0.0),
                                    spec.get("times", 1))
        if not isinstance(size, int) or not 1 <= size <= MAX_SYNC_LIMIT or not isinstance(times, int) \
                or (slow is not None and not isinstance(slow, int)) or not isinstance(delay, int | float):
            return bad_request("page_size 1-1000, slow_page an int page number, delay seconds, times an int")
        state.kf.set_paging(Paging(size, slow, float(delay), times if slow is not None else 0))
        return {"ok": True}

    @app.get("/fake/kf/state")
    def kf_snapshot() -> dict[str, Any]:
        return state.kf.snapshot()


def _valid_item(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    if "event" in item:
        return isinstance(item["event"], dict) and isinstance(item["event"].get("event_type"), str) \
            and isinstance(item.get("external_userid", ""), str)
    customer = item.get("external_userid")
    return isinstance(customer, str) and bool(customer) and isinstance(item.get("text"), str) and bool(item["text"])
