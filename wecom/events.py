"""Decrypted callback XML → a typed event with a routing key such as
`change_external_contact/add_external_contact`.

wechatpy 1.8's enterprise parser has one class per `Event` (not per ChangeType) and knows none of the
customer-contact events, so the mapping is ours, as a table (Zulip's shape): the key narrows
MsgType/Event by ChangeType. Unknown kinds become an `Event` with `known=False` rather than an error,
so they are stored, acknowledged and listed as unhandled.

The dedup key follows docs/PROTOCOL.md: MsgId when there is one, else a hash of the whole decrypted payload.
Never FromUserName+CreateTime: for these events FromUserName is always `sys` and CreateTime has
one-second resolution, which made other SDKs drop real events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from wecom.crypto import parse_xml

Fields = dict[str, Any]

CHANGE_TYPES: dict[str, frozenset[str]] = {
    "change_external_contact": frozenset({
        "add_external_contact", "edit_external_contact", "add_half_external_contact",
        "del_external_contact", "del_follow_user", "transfer_fail",
    }),
    "change_external_chat": frozenset({"create", "update", "dismiss"}),
    "change_external_tag": frozenset({"create", "update", "delete", "shuffle"}),
    "change_contact": frozenset({
        "create_user", "update_user", "delete_user", "create_party", "update_party", "delete_party",
        "update_tag",
    }),
}
APP_EVENTS = frozenset({"enter_agent", "click", "view", "kf_msg_or_event"})
APP_MESSAGES = frozenset({"text", "image", "voice", "video", "location", "link"})
REPEATED = frozenset({"AuthAddOpenKfId", "AuthDelOpenKfId"})
"""Top-level elements a callback may repeat, one per item (kf_account_auth_change: one node per account):
always kept as a list, however many came."""


def _element_value(elem: Any) -> Any:
    """Leaf → its text; a list of same-named children (`<Item>`s) → a list; otherwise a dict."""
    children = list(elem)
    if not children:
        return (elem.text or "").strip()
    tags = {c.tag for c in children}
    if len(tags) == 1 and len(children) > 1 or tags == {"Item"}:
        return [_element_value(c) for c in children]
    return {c.tag: _element_value(c) for c in children}


@dataclass(frozen=True)
class Event:
    """Every callback has these; `fields` keeps every element so no payload detail is lost."""

    routing_key: str
    known: bool
    corp_id: str
    msg_type: str
    create_time: dt.datetime | None
    agent_id: int | None
    msg_id: str | None
    from_user: str
    fields: Fields = field(repr=False)

    family: ClassVar[str] = "event"

    def get(self, name: str, default: str = "") -> Any:
        return self.fields.get(name, default)

    @property
    def urgent(self) -> bool:
        """True when a customer is waiting on what this event starts, so it jumps the events backlog."""
        return False

    batched: ClassVar[bool] = False
    """True for callbacks that only say "there is news, fetch it": a burst of them is processed as one
    batch (jobs/events.py `process_batch`) instead of a job each."""

    @property
    def batch_group(self) -> str:
        """Within a batch, callbacks of one group are handled in one transaction (they touch the same rows)."""
        return ""


@dataclass(frozen=True)
class ExternalContactEvent(Event):
    """change_external_contact: a customer added, edited, deleted, or a transfer failed."""

    user_id: str = ""
    external_user_id: str = ""
    state: str = ""
    welcome_code: str = ""
    source: str = ""
    fail_reason: str = ""

    @property
    def urgent(self) -> bool:
        """A WelcomeCode dies 20 s after the event, and the welcome job only exists once it is processed."""
        return bool(self.welcome_code)


@dataclass(frozen=True)
class ExternalChatEvent(Event):
    """change_external_chat: a customer group created, updated (UpdateDetail) or dismissed."""

    chat_id: str = ""
    update_detail: str = ""
    join_scene: int | None = None
    quit_scene: int | None = None
    mem_change_cnt: int | None = None
    mem_change_list: tuple[str, ...] = ()
    last_mem_ver: str = ""
    cur_mem_ver: str = ""


@dataclass(frozen=True)
class ExternalTagEvent(Event):
    """change_external_tag: a corp tag (or group, TagType) created, updated, deleted or re-ordered."""

    tag_id: str = ""
    tag_type: str = ""
    strategy_id: str = ""


@dataclass(frozen=True)
class ContactChangeEvent(Event):
    """change_contact: the address book (staff and departments) changed."""

    user_id: str = ""
    new_user_id: str = ""
    name: str = ""
    department: tuple[str, ...] = ()
    status: str = ""
    party_id: str = ""
    party_name: str = ""
    parent_id: str = ""


@dataclass(frozen=True)
class KfAuthChangeEvent(Event):
    """kf_account_auth_change: accounts given to (AuthAddOpenKfId) or taken from (AuthDelOpenKfId) this app."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class KfEvent(Event):
    """kf_msg_or_event carries only a sync Token and the account; the messages come from kf/sync_msg."""

    token: str = ""
    open_kf_id: str = ""

    batched: ClassVar[bool] = True

    @property
    def batch_group(self) -> str:
        """The account: its callbacks all count on its cursor row."""
        return self.open_kf_id

    @property
    def urgent(self) -> bool:
        """A customer has just written and waits for the bot's answer."""
        return True


@dataclass(frozen=True)
class AppMessage(Event):
    """A staff member wrote to the self-built app: text (bot commands), image, voice, video, location,
    link."""

    content: str = ""
    media_id: str = ""
    pic_url: str = ""
    format: str = ""
    thumb_media_id: str = ""
    location_x: str = ""
    location_y: str = ""
    scale: str = ""
    label: str = ""
    title: str = ""
    description: str = ""
    url: str = ""


@dataclass(frozen=True)
class AppEvent(Event):
    """enter_agent, click (menu key) and view (menu URL) events of the self-built app."""

    event_key: str = ""


def _opt_int(raw: Any) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _as_tuple(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, list):
        return tuple(str(x) for x in raw)
    if isinstance(raw, str) and raw:
        return tuple(p for p in raw.replace(",", " ").split() if p)
    return ()


def _external_contact(f: Fields) -> Fields:
    return {
        "user_id": f.get("UserID", ""), "external_user_id": f.get("ExternalUserID", ""),
        "state": f.get("State", ""), "welcome_code": f.get("WelcomeCode", ""),
        "source": f.get("Source", ""), "fail_reason": f.get("FailReason", ""),
    }


def _external_chat(f: Fields) -> Fields:
    return {
        "chat_id": f.get("ChatId", ""), "update_detail": f.get("UpdateDetail", ""),
        "join_scene": _opt_int(f.get("JoinScene")), "quit_scene": _opt_int(f.get("QuitScene")),
        "mem_change_cnt": _opt_int(f.get("MemChangeCnt")),
        "mem_change_list": _as_tuple(f.get("MemChangeList")),
        "last_mem_ver": f.get("LastMemVer", ""), "cur_mem_ver": f.get("CurMemVer", ""),
    }


def _external_tag(f: Fields) -> Fields:
    return {"tag_id": f.get("Id", ""), "tag_type": f.get("TagType", ""), "strategy_id": f.get("StrategyId", "")}


def _contact_change(f: Fields) -> Fields:
    return {
        "user_id": f.get("UserID", ""), "new_user_id": f.get("NewUserID", ""), "name": f.get("Name", ""),
        "department": _as_tuple(f.get("Department")), "status": f.get("Status", ""),
        "party_id": f.get("Id", ""), "party_name": f.get("Name", ""), "parent_id": f.get("ParentId", ""),
    }


def _kf(f: Fields) -> Fields:
    return {"token": f.get("Token", ""), "open_kf_id": f.get("OpenKfId", "")}


def _kf_auth(f: Fields) -> Fields:
    return {"added": tuple(f.get("AuthAddOpenKfId", [])), "removed": tuple(f.get("AuthDelOpenKfId", []))}


def _app_message(f: Fields) -> Fields:
    return {
        "content": f.get("Content", ""), "media_id": f.get("MediaId", ""), "pic_url": f.get("PicUrl", ""),
        "format": f.get("Format", ""), "thumb_media_id": f.get("ThumbMediaId", ""),
        "location_x": f.get("Location_X", ""), "location_y": f.get("Location_Y", ""),
        "scale": f.get("Scale", ""), "label": f.get("Label", ""), "title": f.get("Title", ""),
        "description": f.get("Description", ""), "url": f.get("Url", ""),
    }


def _app_event(f: Fields) -> Fields:
    return {"event_key": f.get("EventKey", "")}


FAMILIES: dict[str, tuple[type[Event], Any]] = {
    "change_external_contact": (ExternalContactEvent, _external_contact),
    "change_external_chat": (ExternalChatEvent, _external_chat),
    "change_external_tag": (ExternalTagEvent, _external_tag),
    "change_contact": (ContactChangeEvent, _contact_change),
    "kf_msg_or_event": (KfEvent, _kf),
    "kf_account_auth_change": (KfAuthChangeEvent, _kf_auth),
    "app_event": (AppEvent, _app_event),
    "message": (AppMessage, _app_message),
}


def _classify(f: Fields) -> tuple[str, str, bool]:
    """(family, routing key, known) for a flattened payload."""
    msg_type = str(f.get("MsgType", "")).lower()
    if not msg_type:
        info = f.get("InfoType", "")
        return "", f"info/{info}" if info else "unknown", False
    if msg_type != "event":
        return "message", f"message/{msg_type}", msg_type in APP_MESSAGES
    event = str(f.get("Event", "")).lower()
    if event in CHANGE_TYPES:
        change = str(f.get("ChangeType", ""))
        return event, f"{event}/{change}", change in CHANGE_TYPES[event]
    if event in ("kf_msg_or_event", "kf_account_auth_change"):
        return event, event, True
    return "app_event", f"event/{event}", event in APP_EVENTS


def parse(plaintext: str) -> Event:
    """Typed event from decrypted XML. Raises `CallbackRejected` (400) only for XML that does not parse."""
    root = parse_xml(plaintext.encode() if isinstance(plaintext, str) else plaintext)
    fields_: Fields = {}
    for child in root:
        if child.tag in REPEATED:
            fields_.setdefault(child.tag, []).append(_element_value(child))
        else:
            fields_[child.tag] = _element_value(child)
    family, key, known = _classify(fields_)
    create = _opt_int(fields_.get("CreateTime"))
    msg_id = str(fields_.get("MsgId") or "") or None
    base = {
        "routing_key": key,
        "known": known,
        "corp_id": str(fields_.get("ToUserName", "")),
        "msg_type": str(fields_.get("MsgType", "")),
        "create_time": dt.datetime.fromtimestamp(create, dt.UTC) if create else None,
        "agent_id": _opt_int(fields_.get("AgentID")),
        "msg_id": msg_id if msg_id != "0" else None,
        "from_user": str(fields_.get("FromUserName", "")),
        "fields": fields_,
    }
    cls, extract = FAMILIES.get(family, (Event, None))
    return cls(**base, **(extract(fields_) if extract else {}))


def dedup_key(event: Event, plaintext: str) -> str:
    """The key a retried delivery of this callback repeats and no other callback shares."""
    if event.msg_id:
        return f"msg:{event.agent_id or 0}:{event.msg_id}"
    return "sha1:" + hashlib.sha1(plaintext.encode()).hexdigest()
