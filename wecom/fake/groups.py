"""Customer groups (客户群) in the fake WeCom: externalcontact/groupchat/list and groupchat/get, and control
routes that play a group's life (created, members joining and quitting, owner/name/notice changed,
dismissed), each sending the service the encrypted change_external_chat callback WeCom would send.

Shapes follow docs 92120 (list: status_filter 0-3, owner_filter.userid_list ≤100, cursor, limit 1~1000)
and 92122 (get: need_name; member_list with type, join_time, join_scene, invitor, state, group_nickname,
name, unionid; admin_list; member_version) and the event doc 92130 (JoinScene 0 invited / 3 scanned a
code, QuitScene 0 left / 1 removed, MemChangeCnt, MemChangeList, LastMemVer, CurMemVer). member_version
changes with every membership change and only then. The errcode for an unknown chat_id (40050) is the
global table's; a dismissed group answers the same (a guess: no doc says).

Callbacks go to the target a test registers per corp (`POST /fake/callback_targets`); `"callback": false`
on a change leaves it out, as a callback WeCom gave up on would be (a missed event). Bulk groups
(`POST /fake/groups/bulk`, for the bench) are generated on demand from their index, so ten thousand groups
of 200 cost no memory until one is changed.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import requests
from flask import Flask, Response, request

from wecom.crypto import CallbackCrypto
from wecom.fake.call import Call, bad_request, body_object, corpid_of
from wecom.fake.errors import WeComError
from wecom.fake.sender import post_callback

GROUP_NOT_FOUND = 40050
LIST_LIMIT = 1000
OWNER_FILTER_MAX = 100


@dataclass
class Group:
    corpid: str
    chat_id: str
    name: str
    owner: str
    create_time: int
    notice: str = ""
    status: int = 0
    admins: list[str] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: int = 0
    dismissed: bool = False

    @property
    def version(self) -> str:
        return hashlib.md5(f"{self.chat_id}:{self.changes}".encode()).hexdigest()

    def public(self, need_name: bool) -> dict[str, Any]:
        # shallow copies: a member's dict is never changed once made (a change replaces it), only the list is
        members = [dict(m) if need_name else {k: v for k, v in m.items() if k != "name"}
                   for m in self.members.values()]
        return {"chat_id": self.chat_id, "name": self.name, "owner": self.owner, "create_time": self.create_time,
                "notice": self.notice, "member_list": members,
                "admin_list": [{"userid": a} for a in self.admins], "member_version": self.version}


@dataclass(frozen=True)
class Bulk:
    """`count` generated groups of `size` members: the owner (staff) and externals from a pool."""

    corpid: str
    count: int
    size: int
    customers: int
    owners: int
    created: int

    def chat_id(self, i: int) -> str:
        return f"wrBulk{i:07d}"

    def build(self, i: int) -> Group:
        owner = f"bulkowner{i % self.owners}"
        group = Group(self.corpid, self.chat_id(i), f"批量群{i}", owner, self.created)
        group.members[owner] = _member(owner, 1, self.created, 1, "", "", f"群主{i % self.owners}", "")
        for j in range(self.size - 1):
            external = f"wmBulk{(i * 131 + j) % self.customers:09d}"
            group.members[external] = _member(external, 2, self.created + j, 1 + j % 3, owner, "",
                                              f"客户{j}", f"un{external}")
        return group


def _member(userid: str, kind: int, join_time: int, scene: int, invitor: str, state: str, name: str,
            unionid: str, nickname: str = "") -> dict[str, Any]:
    member: dict[str, Any] = {"userid": userid, "type": kind, "join_time": join_time, "join_scene": scene}
    if invitor:
        member["invitor"] = {"userid": invitor}
    if kind == 2 and unionid:
        member["unionid"] = unionid
    if state:
        member["state"] = state
    member.update(group_nickname=nickname, name=name)
    return member


@dataclass(frozen=True)
class Target:
    url: str
    crypto: CallbackCrypto


class GroupBook:
    """Every corp's groups, behind one lock; callbacks are sent after it is released."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[str, Group] = {}
        self._bulk: dict[str, Bulk] = {}
        self._targets: dict[str, Target] = {}
        self._next = 1

    def reset(self) -> None:
        with self._lock:
            self._groups.clear()
            self._bulk.clear()
            self._targets.clear()

    def set_target(self, corpid: str, url: str, token: str, aes_key: str) -> None:
        with self._lock:
            self._targets[corpid] = Target(url, CallbackCrypto(token, aes_key, corpid))

    def add_bulk(self, bulk: Bulk) -> None:
        with self._lock:
            self._bulk[bulk.corpid] = bulk

    def _get(self, chat_id: str) -> Group | None:
        """The group, a bulk one built now (caller holds the lock)."""
        group = self._groups.get(chat_id)
        if group is None and chat_id.startswith("wrBulk") and chat_id[6:].isdigit():
            index = int(chat_id[6:])
            bulk = next((b for b in self._bulk.values() if index < b.count), None)
            if bulk is not None:
                group = self._groups[chat_id] = bulk.build(index)
        return group

    def _ids(self, corpid: str) -> list[str]:
        bulk = self._bulk.get(corpid)
        built = [c for c, g in self._groups.items() if g.corpid == corpid]
        generated = [bulk.chat_id(i) for i in range(bulk.count)] if bulk else []
        return generated + [c for c in built if not c.startswith("wrBulk")]

    # -- the API -----------------------------------------------------------------------------------------

    def listing(self, corpid: str, status: int, owners: set[str] | None) -> list[dict[str, Any]]:
        with self._lock:
            rows = []
            for chat_id in self._ids(corpid):
                group = self._groups.get(chat_id)
                if group is None and owners is None and status == 0:
                    rows.append({"chat_id": chat_id, "status": 0})  # a bulk group not built: owner/status default
                    continue
                group = group or self._get(chat_id)
                if group is None or group.dismissed or (status and group.status != status) \
                        or (owners is not None and group.owner not in owners):
                    continue
                rows.append({"chat_id": chat_id, "status": group.status})
            return rows

    def detail(self, corpid: str, chat_id: str, need_name: bool) -> dict[str, Any]:
        with self._lock:
            group = self._get(chat_id)
            if group is None or group.corpid != corpid or group.dismissed:
                raise WeComError(GROUP_NOT_FOUND)
            if group.chat_id.startswith("wrBulk") and group.changes == 0:
                answer = group.public(need_name)
                del self._groups[chat_id]  # untouched: built again next time instead of kept
                return answer
            return group.public(need_name)

    # -- control -----------------------------------------------------------------------------------------

    def create(self, spec: dict[str, Any], at: int) -> tuple[Group, dict[str, Any]]:
        with self._lock:
            chat_id = spec.get("chat_id") or f"wrFake{self._next:06d}"
            self._next += 1
            if chat_id in self._groups:
                raise ValueError(f"group {chat_id!r} exists")
            group = Group(spec["corpid"], chat_id, spec.get("name", ""), spec["owner"], at,
                          spec.get("notice", ""), int(spec.get("status", 0)), list(spec.get("admins", [])))
            group.members[group.owner] = _member(group.owner, 1, at, 1, "", "", spec.get("owner_name", group.owner), "")
            for m in spec.get("members", []):
                group.members[m["userid"]] = _spec_member(m, at, group.owner)
            self._groups[chat_id] = group
            return group, {"ChangeType": "create"}

    def join(self, chat_id: str, members: list[dict[str, Any]], at: int) -> tuple[Group, dict[str, Any]]:
        with self._lock:
            group = self._live(chat_id)
            new = [m for m in members if m["userid"] not in group.members]
            if not new:
                raise ValueError("every member given is in the group already")
            last = group.version
            for m in new:
                group.members[m["userid"]] = _spec_member(m, at, group.owner)
            group.changes += 1
            scene = 3 if all(int(m.get("join_scene", 1)) == 3 for m in new) else 0
            return group, {"ChangeType": "update", "UpdateDetail": "add_member", "JoinScene": scene,
                           "MemChangeCnt": len(new), "MemChangeList": [m["userid"] for m in new],
                           "LastMemVer": last, "CurMemVer": group.version}

    def quit(self, chat_id: str, userids: list[str], scene: int) -> tuple[Group, dict[str, Any]]:
        with self._lock:
            group = self._live(chat_id)
            gone = [u for u in dict.fromkeys(userids) if u in group.members and u != group.owner]
            if not gone:
                raise ValueError("none of the userids given is a member other than the owner")
            last = group.version
            for userid in gone:
                del group.members[userid]
            group.changes += 1
            return group, {"ChangeType": "update", "UpdateDetail": "del_member", "QuitScene": scene,
                           "MemChangeCnt": len(gone), "MemChangeList": gone, "LastMemVer": last,
                           "CurMemVer": group.version}

    def change(self, chat_id: str, what: str, value: str) -> tuple[Group, dict[str, Any]]:
        with self._lock:
            group = self._live(chat_id)
            if what == "owner":
                if value not in group.members:
                    group.members[value] = _member(value, 1, int(time.time()), 1, group.owner, "", value, "")
                    group.changes += 1
                group.owner = value
            else:
                setattr(group, what, value)
            return group, {"ChangeType": "update", "UpdateDetail": f"change_{what}"}

    def dismiss(self, chat_id: str) -> tuple[Group, dict[str, Any]]:
        with self._lock:
            group = self._live(chat_id)
            group.dismissed = True
            return group, {"ChangeType": "dismiss"}

    def _live(self, chat_id: str) -> Group:
        group = self._get(chat_id)
        if group is None or group.dismissed:
            raise ValueError(f"no live group {chat_id!r}")
        return group

    def send(self, group: Group, xml: str) -> int | None:
        """POST the change's callback to the corp's target: its HTTP status, None without a target."""
        with self._lock:
            target = self._targets.get(group.corpid)
        if target is None:
            return None
        try:
            return post_callback(target.url, target.crypto, xml).status_code
        except requests.RequestException:
            return 0


def _spec_member(m: dict[str, Any], at: int, owner: str) -> dict[str, Any]:
    kind = int(m.get("type", 2 if m["userid"].startswith(("wm", "wo")) else 1))
    return _member(m["userid"], kind, int(m.get("join_time", at)), int(m.get("join_scene", 1)),
                   m.get("invitor", owner), m.get("state", ""), m.get("name", m["userid"]), m.get("unionid", ""),
                   m.get("group_nickname", ""))


def event_xml(corpid: str, chat_id: str, at: int, fields: dict[str, Any]) -> str:
    """change_external_chat as WeCom sends it (doc 92130)."""
    parts = [f"<ToUserName><![CDATA[{corpid}]]></ToUserName>", "<FromUserName><![CDATA[sys]]></FromUserName>",
             f"<CreateTime>{at}</CreateTime>", "<MsgType><![CDATA[event]]></MsgType>",
             "<Event><![CDATA[change_external_chat]]></Event>", f"<ChatId><![CDATA[{chat_id}]]></ChatId>"]
    for name, value in fields.items():
        if isinstance(value, list):
            parts.append(f"<{name}>" + "".join(f"<Item><![CDATA[{v}]]></Item>" for v in value) + f"</{name}>")
        elif isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{escape(str(value))}]]></{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


# -- /cgi-bin/ endpoints --------------------------------------------------------------------------------

def _int(body: dict[str, Any], key: str, default: int | None, low: int, high: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise WeComError(40058, f"invalid parameter {key}")
    return value


def groupchat_list(server: Any, call: Call) -> dict[str, Any]:
    """externalcontact/groupchat/list (doc 92120): non-dismissed groups, cursor-paged (limit 1~1000)."""
    body = body_object(call)
    status = _int(body, "status_filter", 0, 0, 3)
    limit = _int(body, "limit", None, 1, LIST_LIMIT)
    owners = None
    if body.get("owner_filter") is not None:
        ids = body["owner_filter"].get("userid_list") if isinstance(body["owner_filter"], dict) else None
        if not isinstance(ids, list) or len(ids) > OWNER_FILTER_MAX or not all(isinstance(i, str) for i in ids):
            raise WeComError(40058, "invalid parameter owner_filter.userid_list")
        owners = set(ids)
    cursor = body.get("cursor") or ""
    if not isinstance(cursor, str) or cursor and not cursor.isdigit():
        raise WeComError(40058, "invalid parameter cursor")
    offset = int(cursor or 0)
    rows = server.state.groups.listing(corpid_of(call), status, owners)
    end = offset + limit
    return {"group_chat_list": rows[offset:end], "next_cursor": str(end) if end < len(rows) else ""}


def groupchat_get(server: Any, call: Call) -> dict[str, Any]:
    """externalcontact/groupchat/get (doc 92122)."""
    body = body_object(call)
    chat_id = body.get("chat_id")
    if not isinstance(chat_id, str) or not chat_id:
        raise WeComError(40058, "invalid parameter chat_id")
    need_name = _int(body, "need_name", 0, 0, 1)
    return {"group_chat": server.state.groups.detail(corpid_of(call), chat_id, bool(need_name))}


# -- /fake/ control routes ------------------------------------------------------------------------------

def add_group_control_routes(app: Flask, book: GroupBook) -> None:
    """The routes that drive groups: each change answers the group's chat_id, member_version, the
    callback's HTTP status (null: no target registered, or `"callback": false`) and the event's XML (as
    sent, or as it would have been: a test without a target posts it itself)."""

    def spec() -> dict[str, Any]:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise ValueError("a JSON object is expected")
        return body

    def changed(result: tuple[Group, dict[str, Any]], body: dict[str, Any], at: int) -> dict[str, Any]:
        group, fields = result
        xml = event_xml(group.corpid, group.chat_id, at, fields)
        status = book.send(group, xml) if body.get("callback", True) else None
        return {"chat_id": group.chat_id, "member_version": group.version, "callback": status, "xml": xml}

    def run(make: Any) -> dict[str, Any] | tuple[Response, int]:
        try:
            body = spec()
            at = int(body.get("at") or time.time())
            return changed(make(body, at), body, at)
        except (ValueError, KeyError, TypeError) as error:
            return bad_request(str(error))

    @app.post("/fake/callback_targets")
    def set_target() -> dict[str, Any] | tuple[Response, int]:
        try:
            body = spec()
            book.set_target(body["corpid"], body["url"], body["token"], body["aes_key"])
        except (ValueError, KeyError) as error:
            return bad_request(f"needs corpid, url, token and aes_key ({error})")
        return {"ok": True}

    @app.post("/fake/groups")
    def create_group() -> dict[str, Any] | tuple[Response, int]:
        return run(lambda body, at: book.create(body, at))

    @app.post("/fake/groups/bulk")
    def bulk_groups() -> dict[str, Any] | tuple[Response, int]:
        try:
            body = spec()
            book.add_bulk(Bulk(body["corpid"], int(body["count"]), int(body.get("members", 200)),
                               int(body.get("customers", 100_000)), int(body.get("owners", 50)),
                               int(body.get("at") or time.time())))
        except (ValueError, KeyError, TypeError) as error:
            return bad_request(str(error))
        return {"ok": True}

    @app.post("/fake/groups/<chat_id>/members")
    def join(chat_id: str) -> dict[str, Any] | tuple[Response, int]:
        return run(lambda body, at: book.join(chat_id, list(body["members"]), at))

    @app.post("/fake/groups/<chat_id>/quit")
    def quit_group(chat_id: str) -> dict[str, Any] | tuple[Response, int]:
        return run(lambda body, at: book.quit(chat_id, list(body["userids"]), int(body.get("quit_scene", 0))))

    @app.post("/fake/groups/<chat_id>/change")
    def change(chat_id: str) -> dict[str, Any] | tuple[Response, int]:
        def make(body: dict[str, Any], at: int) -> tuple[Group, dict[str, Any]]:
            what = [k for k in ("owner", "name", "notice") if k in body]
            if len(what) != 1 or not isinstance(body[what[0]], str):
                raise ValueError("give exactly one of owner, name, notice (a string)")
            return book.change(chat_id, what[0], body[what[0]])
        return run(make)

    @app.post("/fake/groups/<chat_id>/dismiss")
    def dismiss(chat_id: str) -> dict[str, Any] | tuple[Response, int]:
        return run(lambda body, at: book.dismiss(chat_id))
