"""The fake's customer-group join ways (客户群「加入群聊」, doc 92229: groupchat/add_join_way, get_join_way,
update_join_way, del_join_way) and group welcome templates (入群欢迎语素材, doc 92366:
group_welcome_template/add, edit, get, del), with their state and the control routes that show it.

Limits as the docs state them: at most 5 chat ids; `state` at most 30 UTF-8 characters; a `remark` over 30
characters is cut (WeCom truncates it); `room_base_name` at most 40 characters; a template's text at most
3000 bytes, a link's title 128 and description 512 bytes, a mini-program's title 64 bytes; text, image,
link, miniprogram, file and video not all empty; 100 templates a corp. The docs give no errcode for these:
40058 (invalid parameter) is a guess, as for the contact way's limits; 41040 (invalid scene), 41043/41044
(missing/invalid config_id) are the contact way's, which WeCom's global table shares. Chat ids are not
checked against groups: the fake's customer groups are another module's.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any, Protocol

from flask import Flask

from wecom.fake.call import Call, body_int, body_object, body_str, corpid_of
from wecom.fake.errors import WeComError

MAX_CHATS = 5
MAX_STATE_CHARS = 30
MAX_REMARK_CHARS = 30
MAX_ROOM_BASE_NAME_CHARS = 40
MAX_TEXT_BYTES = 3000
MAX_TEMPLATES = 100
TEMPLATE_PARTS = {"image": (), "link": ("title", "url"), "miniprogram": ("title", "pic_media_id", "appid", "page"),
                  "file": ("media_id",), "video": ("media_id",)}
"""A template's non-text parts and the fields each needs (an image needs media_id or pic_url)."""
PART_BYTES = {("link", "title"): 128, ("link", "desc"): 512, ("miniprogram", "title"): 64}


class GroupCodesState:
    """Join ways and group welcome templates by corp; its own lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ways: dict[tuple[str, str], dict[str, Any]] = {}  # (corpid, config_id) -> way
        self._templates: dict[tuple[str, str], dict[str, Any]] = {}  # (corpid, template_id) -> content

    def reset(self) -> None:
        with self._lock:
            self._ways.clear()
            self._templates.clear()

    def add_way(self, corpid: str, way: dict[str, Any]) -> str:
        config_id = secrets.token_hex(16)
        with self._lock:
            self._ways[(corpid, config_id)] = {**way, "config_id": config_id,
                                               "qr_code": f"https://wework.qpic.cn/wwpic/fake/{config_id}/0"}
        return config_id

    def way(self, corpid: str, config_id: str) -> dict[str, Any]:
        with self._lock:
            found = self._ways.get((corpid, config_id))
            if found is None:
                raise WeComError(41044)
            return dict(found)

    def update_way(self, corpid: str, config_id: str, way: dict[str, Any]) -> None:
        with self._lock:
            if (corpid, config_id) not in self._ways:
                raise WeComError(41044)
            self._ways[(corpid, config_id)].update(way)

    def delete_way(self, corpid: str, config_id: str) -> None:
        with self._lock:
            if self._ways.pop((corpid, config_id), None) is None:
                raise WeComError(41044)

    def ways(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**way, "corpid": corpid} for (corpid, _), way in self._ways.items()]

    def add_template(self, corpid: str, content: dict[str, Any]) -> str:
        with self._lock:
            if sum(1 for c, _ in self._templates if c == corpid) >= MAX_TEMPLATES:
                raise WeComError(40058, "group welcome template count exceeds the limit of 100")  # guess
            template_id = secrets.token_urlsafe(24)
            self._templates[(corpid, template_id)] = content
        return template_id

    def template(self, corpid: str, template_id: str) -> dict[str, Any]:
        with self._lock:
            found = self._templates.get((corpid, template_id))
            if found is None:
                raise WeComError(40058, "invalid template_id")  # guess
            return dict(found)

    def edit_template(self, corpid: str, template_id: str, content: dict[str, Any]) -> None:
        with self._lock:
            if (corpid, template_id) not in self._templates:
                raise WeComError(40058, "invalid template_id")  # guess
            self._templates[(corpid, template_id)] = content

    def delete_template(self, corpid: str, template_id: str) -> None:
        with self._lock:
            if self._templates.pop((corpid, template_id), None) is None:
                raise WeComError(40058, "invalid template_id")  # guess

    def templates(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**content, "corpid": corpid, "template_id": template_id}
                    for (corpid, template_id), content in self._templates.items()]


class _Server(Protocol):
    state: Any  # FakeState, whose `group_codes` is a GroupCodesState


def _store(server: _Server) -> GroupCodesState:
    store: GroupCodesState = server.state.group_codes
    return store


# -- join ways ------------------------------------------------------------------------------------------------
def _way_fields(body: dict[str, Any]) -> dict[str, Any]:
    """add_join_way's / update_join_way's fields checked as WeCom checks them."""
    scene = body_int(body, "scene", 0)
    if scene not in (1, 2):
        raise WeComError(41040)
    chats = body.get("chat_id_list")
    if not isinstance(chats, list) or not chats or not all(isinstance(c, str) and c for c in chats):
        raise WeComError(40058, "invalid parameter chat_id_list")
    if len(chats) > MAX_CHATS:
        raise WeComError(40058, f"chat_id_list supports at most {MAX_CHATS} chats")  # guess
    state = body.get("state", "")
    if not isinstance(state, str) or len(state) > MAX_STATE_CHARS:
        raise WeComError(40058, f"state is at most {MAX_STATE_CHARS} characters")  # guess
    remark = body.get("remark", "")
    auto = body_int(body, "auto_create_room", 1)
    if auto not in (0, 1):
        raise WeComError(40058, "invalid parameter auto_create_room")
    base_name = body.get("room_base_name", "")
    if not isinstance(base_name, str) or len(base_name) > MAX_ROOM_BASE_NAME_CHARS:
        raise WeComError(40058, f"room_base_name is at most {MAX_ROOM_BASE_NAME_CHARS} characters")  # guess
    return {"scene": scene, "remark": str(remark)[:MAX_REMARK_CHARS], "auto_create_room": auto,
            "room_base_name": base_name, "room_base_id": body_int(body, "room_base_id", 0), "chat_id_list": chats,
            "state": state}


def add_join_way(server: _Server, call: Call) -> dict[str, Any]:
    return {"config_id": _store(server).add_way(corpid_of(call), _way_fields(body_object(call)))}


def get_join_way(server: _Server, call: Call) -> dict[str, Any]:
    return {"join_way": _store(server).way(corpid_of(call), body_str(body_object(call), "config_id", 41043))}


def update_join_way(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    config_id = body_str(body, "config_id", 41043)
    _store(server).update_way(corpid_of(call), config_id, _way_fields(body))
    return {}


def del_join_way(server: _Server, call: Call) -> dict[str, Any]:
    _store(server).delete_way(corpid_of(call), body_str(body_object(call), "config_id", 41043))
    return {}


# -- group welcome templates ----------------------------------------------------------------------------------
def _template_content(body: dict[str, Any]) -> dict[str, Any]:
    """The template's text and parts, checked as WeCom checks them."""
    content: dict[str, Any] = {}
    text = body.get("text")
    if text is not None:
        value = text.get("content") if isinstance(text, dict) else None
        if not isinstance(value, str):
            raise WeComError(47001)
        if len(value.encode("utf-8")) > MAX_TEXT_BYTES:
            raise WeComError(40058, f"text.content is at most {MAX_TEXT_BYTES} bytes")  # guess
        if value:
            content["text"] = {"content": value}
    for part, needed in TEMPLATE_PARTS.items():
        item = body.get(part)
        if item is None:
            continue
        if not isinstance(item, dict) or any(not isinstance(item.get(k), str) or not item[k] for k in needed):
            raise WeComError(40058, f"invalid parameter {part}")
        if part == "image" and not (item.get("media_id") or item.get("pic_url")):
            raise WeComError(40058, "image needs media_id or pic_url")
        for (kind, key), limit in PART_BYTES.items():
            if kind == part and len(str(item.get(key, "")).encode("utf-8")) > limit:
                raise WeComError(40058, f"{part}.{key} is at most {limit} bytes")  # guess
        content[part] = dict(item)
    if not content:
        raise WeComError(44004)  # text, image, link, miniprogram, file and video all empty
    return content


def template_add(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    content = _template_content(body)
    notify = body_int(body, "notify", 1)
    if notify not in (0, 1):
        raise WeComError(40058, "invalid parameter notify")
    return {"template_id": _store(server).add_template(corpid_of(call), {**content, "notify": notify})}


def template_edit(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    template_id = body_str(body, "template_id", 40058)
    store = _store(server)
    notify = store.template(corpid_of(call), template_id).get("notify", 1)
    store.edit_template(corpid_of(call), template_id, {**_template_content(body), "notify": notify})
    return {}


def template_get(server: _Server, call: Call) -> dict[str, Any]:
    content = _store(server).template(corpid_of(call), body_str(body_object(call), "template_id", 40058))
    content.pop("notify", None)
    return content


def template_del(server: _Server, call: Call) -> dict[str, Any]:
    _store(server).delete_template(corpid_of(call), body_str(body_object(call), "template_id", 40058))
    return {}


ENDPOINTS = {
    "externalcontact/groupchat/add_join_way": add_join_way,
    "externalcontact/groupchat/get_join_way": get_join_way,
    "externalcontact/groupchat/update_join_way": update_join_way,
    "externalcontact/groupchat/del_join_way": del_join_way,
    "externalcontact/group_welcome_template/add": template_add,
    "externalcontact/group_welcome_template/edit": template_edit,
    "externalcontact/group_welcome_template/get": template_get,
    "externalcontact/group_welcome_template/del": template_del,
}
"""Path → handler; all POST (server.py adds them to its table)."""


def add_group_code_control_routes(app: Flask, store: GroupCodesState) -> None:
    """GET /fake/join_ways and /fake/group_welcome_templates: what WeCom holds now, for tests."""

    @app.get("/fake/join_ways")
    def join_ways() -> dict[str, Any]:
        return {"join_ways": store.ways()}

    @app.get("/fake/group_welcome_templates")
    def group_welcome_templates() -> dict[str, Any]:
        return {"templates": store.templates()}
