"""The fake's address-book and customer-contact endpoints (通讯录 reads, 客户标签, 欢迎语, 联系我) and the control
routes that drive them.

Handlers read and validate the request into plain values; :class:`wecom.fake.state.FakeState` applies
WeCom's rules that need shared data (members, tags, codes) under its lock. ``server.py`` lists the handlers
in its ``ENDPOINTS`` table.

Errcodes: those not in docs/PROTOCOL.md come from each endpoint's doc page or the global errcode table (see
``errors.py``). Where the docs state a limit but no errcode, the code says "guess".
"""

from __future__ import annotations

from typing import Any, Protocol

from flask import Flask, Response, request

from wecom.fake.call import (
    Call,
    bad_request,
    body_ids,
    body_int,
    body_object,
    body_str,
    corpid_of,
    query_int,
)
from wecom.fake.corp_tags import NewTag
from wecom.fake.errors import WeComError
from wecom.fake.qr_images import qr_url
from wecom.fake.state import FakeState

MAX_STATE_CHARS = 30
"""Doc 92228/96348: a contact way's ``state`` is at most 30 characters (errcode not documented: 40058 guessed)."""

MAX_REMARK_CHARS = 30
"""Doc 92228: a contact way's ``remark`` is at most 30 characters (40058 guessed, as for ``state``)."""

MAX_WELCOME_TEXT_BYTES = 4000
"""Doc 92599: ``text.content`` is at most 4000 bytes (40058 guessed)."""

MAX_WELCOME_ATTACHMENTS = 9
"""Doc 92599: at most 9 attachments (40058 guessed)."""

WELCOME_ATTACHMENT_TYPES = frozenset({"image", "link", "miniprogram", "video", "file"})
"""Doc 92599's attachment msgtypes; any other answers 41065 (global table: 无效的附件类型)."""

_WAY_PASSTHROUGH = ("expires_in", "chat_expires_in", "unionid", "conclusions")
"""Contact-way fields stored and echoed by get_contact_way but not checked (temp sessions, 结束语)."""

_WAY_UPDATABLE = ("style", "remark", "skip_verify", "state", "user", "party", *_WAY_PASSTHROUGH)
"""What update_contact_way may change (doc 92228); type, scene and is_temp are fixed at creation."""


class _Server(Protocol):
    """What a handler uses of the server object it is called with."""

    state: FakeState


# -- address book ---------------------------------------------------------------------------------------------

USER_LIST_DEFAULTS: dict[str, Any] = {"position": "", "mobile": "", "gender": "0", "email": "", "avatar": "",
                                      "status": 1, "direct_leader": []}
"""user/list returns full member objects; fields a seed leaves out get these blank values."""


def department_list(server: _Server, call: Call) -> dict[str, Any]:
    """All seeded departments of the corp, or the subtree under ``id`` (id included; 60123 if unknown)."""
    return {"department": server.state.departments(corpid_of(call), query_int(call, "id"), call.agentid)}


def user_list(server: _Server, call: Call) -> dict[str, Any]:
    """Full member objects of ``department_id`` itself (doc 96260): the current doc has no ``fetch_child``
    ("如需获取该部门及其子部门的所有成员,需先获取该部门下的子部门...逐层递归获取"), so it is ignored."""
    return {"userlist": [_full_user(user) for user in _department_members(server, call)]}


def user_simplelist(server: _Server, call: Call) -> dict[str, Any]:
    """Like user/list with only userid, name, department (and open_userid when seeded), doc 90200."""
    keys = ("userid", "name", "department", "open_userid")
    return {"userlist": [{key: user[key] for key in keys if key in user}
                         for user in _department_members(server, call)]}


def _department_members(server: _Server, call: Call) -> list[dict[str, Any]]:
    """The seeded records user/list and user/simplelist show (``fetch_child`` is ignored: doc 96260 no longer
    has it). A missing department_id is 40058 (guess)."""
    department_id = query_int(call, "department_id")
    if department_id is None:
        raise WeComError(40058, "invalid parameter department_id")
    return server.state.members(corpid_of(call), department_id, call.agentid)


def _full_user(user: dict[str, Any]) -> dict[str, Any]:
    """A seeded member as user/list shows it: seeded fields over blank defaults, main_department derived."""
    departments = user.get("department") or []
    derived = {"main_department": departments[0] if departments else 0}
    return {"userid": user["userid"], "name": user.get("name", ""), "department": departments,
            **USER_LIST_DEFAULTS, **derived, **user}


# -- customer tags ----------------------------------------------------------------------------------------------

def get_corp_tag_list(server: _Server, call: Call) -> dict[str, Any]:
    """The corp's customer tag groups, filtered by ``group_id`` or else ``tag_id`` (doc 92117)."""
    body = _optional_body(call)
    return {"tag_group": server.state.corp_tags(corpid_of(call), body_ids(body, "tag_id"),
                                                body_ids(body, "group_id"))}


def add_corp_tag(server: _Server, call: Call) -> dict[str, Any]:
    """Create tags in a group (by ``group_id``, or by ``group_name``, creating it); answers that group with
    only the new tags. Limits and errcodes: :meth:`wecom.fake.corp_tags.CorpTagLibrary.add`."""
    body = body_object(call)
    tags = _new_tags(body)
    group = server.state.add_corp_tags(corpid_of(call), _optional_str(body, "group_id"),
                                       _optional_str(body, "group_name"), body_int(body, "order", 0), tags)
    return {"tag_group": group}


def edit_corp_tag(server: _Server, call: Call) -> dict[str, Any]:
    """Rename or reorder a tag or a group by ``id``; 40068 if it is neither."""
    body = body_object(call)
    order = body_int(body, "order", 0) if "order" in body else None
    server.state.edit_corp_tag(corpid_of(call), body_str(body, "id", 40068), _optional_str(body, "name"), order)
    return {}


def del_corp_tag(server: _Server, call: Call) -> dict[str, Any]:
    """Delete tags and whole groups; customers lose the deleted tags too."""
    body = body_object(call)
    server.state.delete_corp_tags(corpid_of(call), body_ids(body, "tag_id"), body_ids(body, "group_id"))
    return {}


def mark_tag(server: _Server, call: Call) -> dict[str, Any]:
    """Add/remove corp tags on one member's customer (doc 92697: add_tag and remove_tag can't both be
    empty; 40058 for that is a guess). A missing external_userid is 41035 (global table)."""
    body = body_object(call)
    userid, external_userid = body_str(body, "userid", 41009), body_str(body, "external_userid", 41035)
    add, remove = body_ids(body, "add_tag"), body_ids(body, "remove_tag")
    if not add and not remove:
        raise WeComError(40058, "invalid parameter: add_tag and remove_tag are both empty")
    server.state.mark_tag(corpid_of(call), userid, external_userid, add, remove)
    return {}


def get_strategy_tag_list(server: _Server, call: Call) -> dict[str, Any]:
    """A rule group's tags (doc 99544), filtered like get_corp_tag_list; each group names its strategy_id."""
    body = body_object(call)
    return {"tag_group": server.state.strategy_tags.groups(corpid_of(call), body_int(body, "strategy_id", 0),
                                                         body_ids(body, "tag_id"), body_ids(body, "group_id"))}


def add_strategy_tag(server: _Server, call: Call) -> dict[str, Any]:
    """Create tags in a rule group's tag group (doc 99544), by ``group_name``."""
    body = body_object(call)
    tags = _new_tags(body)
    return {"tag_group": server.state.strategy_tags.add(corpid_of(call), body_int(body, "strategy_id", 0),
                                                        _optional_str(body, "group_name"), body_int(body, "order", 0),
                                                        tags)}


# -- welcome messages -------------------------------------------------------------------------------------------

def send_welcome_msg(server: _Server, call: Call) -> dict[str, Any]:
    """Send the new-customer welcome for a WelcomeCode (doc 92599), checked in this order: the code (41049
    missing, 41050 unknown/expired, 41051 already sent), then the message (40058/41065). A rejected call
    leaves the code usable; so does an injected fault (41096 is retryable), as faults fire before this runs.
    """
    body = body_object(call)
    code = body_str(body, "welcome_code", 41049)
    server.state.check_welcome_code(corpid_of(call), code)
    text, attachments = _welcome_message(body)
    server.state.send_welcome(corpid_of(call), code, text, attachments)
    return {}


def _welcome_message(body: dict[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The (text, attachments) of a send_welcome_msg body, checked against doc 92599's limits."""
    text = body.get("text")
    if text is not None and not (isinstance(text, dict) and isinstance(text.get("content", ""), str)):
        raise WeComError(40058, "invalid parameter text")
    content = text.get("content", "") if text else ""
    if len(content.encode("utf-8")) > MAX_WELCOME_TEXT_BYTES:
        raise WeComError(40058, f"invalid parameter: text.content exceeds {MAX_WELCOME_TEXT_BYTES} bytes")
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list) or not all(isinstance(item, dict) for item in attachments):
        raise WeComError(40058, "invalid parameter attachments")
    if len(attachments) > MAX_WELCOME_ATTACHMENTS:
        raise WeComError(40058, f"invalid parameter: more than {MAX_WELCOME_ATTACHMENTS} attachments")
    for item in attachments:
        if item.get("msgtype") not in WELCOME_ATTACHMENT_TYPES:
            raise WeComError(41065)
        if not isinstance(item.get(item["msgtype"]), dict):
            raise WeComError(40058, f"invalid parameter: attachment without its {item['msgtype']} object")
    if not content and not attachments:
        raise WeComError(40058, "invalid parameter: text and attachments are both empty")
    return (text if content else None), attachments


# -- contact ways (联系我) ----------------------------------------------------------------------------------------

def add_contact_way(server: _Server, call: Call) -> dict[str, Any]:
    """Create a 联系我 way (doc 92228): answers config_id, and qr_code for scene 2 (QR code) ways."""
    way = server.state.add_contact_way(corpid_of(call), _checked_way(_new_way(body_object(call))), qr_url)
    return {key: way[key] for key in ("config_id", "qr_code") if key in way}


def get_contact_way(server: _Server, call: Call) -> dict[str, Any]:
    """A way's configuration; 41043 without config_id, 41044 for an unknown one (global table)."""
    config_id = body_str(body_object(call), "config_id", 41043)
    return {"contact_way": server.state.contact_way(corpid_of(call), config_id)}


def update_contact_way(server: _Server, call: Call) -> dict[str, Any]:
    """Change the fields in ``_WAY_UPDATABLE``; the result is held to add_contact_way's rules."""
    body = body_object(call)
    config_id = body_str(body, "config_id", 41043)
    current = server.state.contact_way(corpid_of(call), config_id)
    changes = {key: body[key] for key in _WAY_UPDATABLE if key in body}
    merged = {key: value for key, value in current.items() if key not in ("config_id", "qr_code")}
    server.state.update_contact_way(corpid_of(call), config_id, _checked_way({**merged, **changes}))
    return {}


def del_contact_way(server: _Server, call: Call) -> dict[str, Any]:
    """Delete a way; 41043/41044 as for get_contact_way."""
    config_id = body_str(body_object(call), "config_id", 41043)
    server.state.delete_contact_way(corpid_of(call), config_id)
    return {}


def _new_way(body: dict[str, Any]) -> dict[str, Any]:
    """add_contact_way's body with documented defaults (skip_verify defaults to true), in get_contact_way's
    field order. 41037/41038 for a missing type/scene (global table)."""
    for key, missing in (("type", 41037), ("scene", 41038)):
        if key not in body:
            raise WeComError(missing)
    defaults = {"remark": "", "skip_verify": True, "state": "", "user": [], "party": [], "is_temp": False}
    way = {"type": body["type"], "scene": body["scene"], **{key: body.get(key, default)
                                                             for key, default in defaults.items()}}
    if "style" in body:
        way["style"] = body["style"]
    way.update({key: body[key] for key in _WAY_PASSTHROUGH if key in body})
    return way


def _checked_way(way: dict[str, Any]) -> dict[str, Any]:
    """``way`` if it is well formed; the checks that need the directory (members, 100-person limit) are
    the state's. type/scene/style errcodes are from the global table; the rest are 40058 guesses."""
    if way["type"] not in (1, 2) or isinstance(way["type"], bool):
        raise WeComError(41039)
    if way["scene"] not in (1, 2) or isinstance(way["scene"], bool):
        raise WeComError(41040)
    if "style" in way and (not isinstance(way["style"], int) or isinstance(way["style"], bool)):
        raise WeComError(41042)
    for key, limit in (("state", MAX_STATE_CHARS), ("remark", MAX_REMARK_CHARS)):
        if not isinstance(way[key], str) or len(way[key]) > limit:
            raise WeComError(40058, f"invalid parameter ({key} too long: at most {limit} characters)")
    if not isinstance(way["skip_verify"], bool) or not isinstance(way["is_temp"], bool):
        raise WeComError(40058, "invalid parameter: skip_verify and is_temp are booleans")
    users, parties = way["user"], way["party"]
    if not isinstance(users, list) or not all(isinstance(user, str) and user for user in users):
        raise WeComError(40058, "invalid parameter user: expected a list of userids")
    if not isinstance(parties, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in parties):
        raise WeComError(40058, "invalid parameter party: expected a list of department ids")
    if way["type"] == 1 and (len(users) != 1 or parties):
        raise WeComError(40058, "invalid parameter: a single-person way (type 1) takes exactly one user")
    if way["type"] == 2 and not users and not parties:
        raise WeComError(40058, "invalid parameter: a multi-person way (type 2) needs users or parties")
    if way["is_temp"] and way["type"] != 1:
        raise WeComError(40058, "invalid parameter: temporary-session ways (is_temp) are single-person only")
    return way


# -- small helpers ----------------------------------------------------------------------------------------------

def _optional_body(call: Call) -> dict[str, Any]:
    """A POST body that may be empty (get_corp_tag_list with no filter); 47001 only if it is not an object."""
    return {} if call.body is None else body_object(call)


def _new_tags(body: dict[str, Any]) -> list[NewTag]:
    """The ``tag`` list of add_corp_tag / add_strategy_tag; 40058 unless it is a list of objects."""
    raw_tags = body.get("tag")
    if not isinstance(raw_tags, list) or not all(isinstance(tag, dict) for tag in raw_tags):
        raise WeComError(40058, "invalid parameter tag: expected a list of {name, order}")
    return [NewTag(name=_optional_str(tag, "name") or "", order=body_int(tag, "order", 0)) for tag in raw_tags]


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    """An optional string field; 40058 if present with another type."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise WeComError(40058, f"invalid parameter {key}: expected a string")
    return value


# -- control routes ---------------------------------------------------------------------------------------------

def add_contact_control_routes(app: Flask, state: FakeState, welcome_code_ttl: float) -> None:
    """Register the /fake/ routes that play WeCom's side of adding a customer: issuing WelcomeCodes,
    a customer scanning a contact way, and reading what was delivered."""

    @app.post("/fake/welcome_codes")
    def issue_welcome_code() -> dict[str, Any] | tuple[Response, int]:
        spec = request.get_json(force=True, silent=True)
        fields = ("corpid", "userid", "external_userid")
        if not isinstance(spec, dict) or not all(isinstance(spec.get(key), str) and spec[key] for key in fields):
            return bad_request(f"welcome code needs non-empty strings {list(fields)} (and optionally 'code')")
        code = spec.get("code")
        if code is not None and (not isinstance(code, str) or not code):
            return bad_request("'code' must be a non-empty string")
        try:
            return {"code": state.issue_welcome_code(spec["corpid"], spec["userid"], spec["external_userid"],
                                                      welcome_code_ttl, code)}
        except ValueError as error:
            return bad_request(str(error))

    @app.get("/fake/welcomes")
    def list_welcomes() -> dict[str, Any]:
        return {"welcomes": state.welcomes()}

    @app.get("/fake/contact_ways")
    def list_contact_ways() -> dict[str, Any]:
        return {"contact_ways": state.contact_ways()}

    @app.post("/fake/contact_ways/<config_id>/scan")
    def scan_contact_way(config_id: str) -> dict[str, Any] | tuple[Response, int]:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or not isinstance(spec.get("external_userid"), str) \
                or not spec["external_userid"] or not isinstance(spec.get("name", ""), str):
            return bad_request("scan needs a non-empty string 'external_userid' (and optionally 'name')")
        try:
            return state.scan_contact_way(config_id, spec["external_userid"], spec.get("name"), welcome_code_ttl)
        except ValueError as error:
            return bad_request(str(error))


def add_directory_control_routes(app: Flask, state: FakeState) -> None:
    """Register the /fake/ routes that change the address book behind the service's back: an app's visible
    range (可见范围) and a member leaving the corp."""

    @app.post("/fake/visible_range")
    def set_visible_range() -> dict[str, Any] | tuple[Response, int]:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or not isinstance(spec.get("corpid"), str) \
                or not isinstance(spec.get("agentid"), int) \
                or not all(isinstance(u, str) for u in spec.get("users", [])) \
                or not all(isinstance(p, int) for p in spec.get("parties", [])):
            return bad_request("visible range needs 'corpid', integer 'agentid', 'users' (userids) and "
                               "'parties' (department ids)")
        state.set_visible_range(spec["corpid"], spec["agentid"], spec.get("users", []), spec.get("parties", []))
        return {"ok": True}

    @app.delete("/fake/users/<corpid>/<userid>")
    def remove_user(corpid: str, userid: str) -> dict[str, Any] | tuple[Response, int]:
        try:
            state.remove_user(corpid, userid)
        except ValueError as error:
            return bad_request(str(error))
        return {"ok": True}
