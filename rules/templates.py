"""Message templates (manual 004 §9.13): WeCom app-message bodies with `{{variable}}` placeholders.

A template has a category. Broadcast templates (员工消息下发, §9.5) declare their own variables and the
broadcast supplies the values; the manual's ten notification categories (`NOTIFICATIONS`: 提醒事项, 超时回复,
删好友, 敏感词, 发名片, 发红包, 转客服进度, 工单进度, 活码失效, 退群) have a fixed set of variables the service
fills in, and a corp's enabled template of that category replaces the built-in wording. A placeholder
that names no known variable is refused when the template is saved, and a broadcast must give exactly the
declared variables, so nothing is ever sent with `{{...}}` in it.

Bodies are the WeCom message/send shapes (doc 90236) for the four kinds staff messages use: text and
markdown (`content`), textcard (`title`, `description`, `url`, `btntxt`), news (`articles`, 1-8, each with
`title`, `description`, `url`, `picurl`). Limits are WeCom's, in UTF-8 bytes, checked on the rendered text.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,31})\s*\}\}")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}\Z")
MAX_VARIABLES = 20
MAX_VALUE_CHARS = 500

BROADCAST = "broadcast"
REMINDER = "reminder"
SENSITIVE_WORD = "sensitive_word"
REPLY_TIMEOUT = "reply_timeout"
GROUP_QUIT = "group_quit"
CODE_EXPIRED = "code_expired"


class Notification(NamedTuple):
    label: str
    variables: tuple[str, ...]
    wording: str
    """The built-in text (a text message), sent while the corp has no enabled template of the category."""


NOTIFICATIONS: dict[str, Notification] = {
    REMINDER: Notification("提醒事项消息", ("staff", "customer", "content", "time"),
                           "提醒事项：{{time}} {{content}}（客户：{{customer}}）"),
    REPLY_TIMEOUT: Notification("超时回复预警消息", ("staff", "customer", "content", "time", "minutes"),
                                "超时回复提醒：客户 {{customer}} {{time}} 的消息已超过 {{minutes}} 分钟（工作时间）"
                                "未回复：{{content}}"),
    "friend_deleted": Notification("删好友预警消息", ("staff", "customer", "time"),
                                   "删好友预警：成员「{{staff}}」于 {{time}} 删除了客户「{{customer}}」。"),
    SENSITIVE_WORD: Notification("敏感词预警消息", ("staff", "customer", "words", "category", "content", "time"),
                                 "敏感词提醒：{{time}} {{staff}} 与客户 {{customer}} 的会话出现敏感词「{{words}}」"
                                 "（{{category}}）：{{content}}"),
    "card_sent": Notification("发名片预警消息", ("staff", "customer", "time"),
                              "发名片预警：成员「{{staff}}」于 {{time}} 向客户「{{customer}}」发送了名片。"),
    "red_packet": Notification("发红包预警消息", ("staff", "customer", "amount", "time"),
                               "发红包预警：成员「{{staff}}」于 {{time}} 向客户「{{customer}}」"
                               "发送了红包 {{amount}}。"),
    "kf_transfer": Notification("转客服进度通知", ("customer", "servicer", "status", "time"),
                                "转客服进度：客户「{{customer}}」{{time}} 转接给「{{servicer}}」，{{status}}。"),
    "ticket": Notification("工单进度通知", ("ticket", "staff", "status", "time"),
                           "工单进度：工单「{{ticket}}」{{time}} 由「{{staff}}」处理，{{status}}。"),
    CODE_EXPIRED: Notification("活码失效通知", ("code", "reason", "time"),
                               "活码失效通知：活码「{{code}}」{{time}} 已失效（{{reason}}），请及时处理。"),
    GROUP_QUIT: Notification("退群提醒", ("customer", "group"),
                             "退群提醒：客户「{{customer}}」已退出群聊「{{group}}」。"),
}
"""§9.13: the ten notification categories, their variables (filled by the service) and built-in wording."""

CATEGORY_VARIABLES: dict[str, tuple[str, ...] | None] = {
    BROADCAST: None,  # declared per template
    **{name: n.variables for name, n in NOTIFICATIONS.items()},
}

KEY_CATEGORIES: dict[str, str] = {
    "plan_reminder": REMINDER, "reply_timeout": REPLY_TIMEOUT, "sensitive_alert": SENSITIVE_WORD,
    "group_code_abnormal": CODE_EXPIRED, "notify_group_quit": GROUP_QUIT, "broadcast": BROADCAST,
    "notify_lost": "customer_lost", "bot_reply": "bot_answer", "radar_open": "radar", "radar_digest": "radar",
    "pool_warning": "pool", "pool_assigned": "pool", "lead_assigned": "lead", "notify_admins": "acquisition",
    "kf_send_fail": "kf_send_fail",
}
"""What an app message is about, by the first part of its outbox key (`<what>:…`, set where it is planned):
the notifications log's category. A key not listed is logged as `notice`."""
LOGGED_CATEGORIES = tuple(dict.fromkeys([*NOTIFICATIONS, *KEY_CATEGORIES.values(), "notice"]))


def logged_category(outbox_key: str | None) -> str:
    """The notifications log's category of an app message planned under `outbox_key`."""
    return KEY_CATEGORIES.get((outbox_key or "").split(":", 1)[0], "notice")


def built_in(category: str, values: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(msgtype, body) of the category's built-in wording with `values` in (a missing one left empty)."""
    wording = NOTIFICATIONS[category].wording
    return "text", {"content": PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), wording)}

MAX_PER_NOTIFICATION_CATEGORY = 3
"""§9.13.1: at most three templates per notification category."""

MSGTYPES = ("text", "markdown", "textcard", "news", "miniprogram_notice")
# (field, byte limit, required) per msgtype; news fields are per article
FIELDS: dict[str, tuple[tuple[str, int, bool], ...]] = {
    "text": (("content", 2048, True),),
    "markdown": (("content", 2048, True),),
    "textcard": (("title", 128, True), ("description", 512, True), ("url", 2048, True), ("btntxt", 12, False)),
    "news": (("title", 128, True), ("description", 512, False), ("url", 2048, False), ("picurl", 2048, False)),
    "miniprogram_notice": (("appid", 64, True), ("page", 1024, False), ("title", 36, True), ("description", 36, False)),
}
MINIPROGRAM_ITEMS, MINIPROGRAM_KEY_BYTES, MINIPROGRAM_VALUE_BYTES = 10, 30, 90
"""miniprogram_notice (doc 90236 小程序通知消息): the mini-program must be linked to the app; title and
description 4–12 characters (36 bytes of Chinese here), `emphasis_first_item` a flag, and at most 10
`content_item` {key ≤ 10, value ≤ 30 characters}."""
MAX_ARTICLES = 8


def strings(msgtype: str, body: dict[str, Any]) -> list[str]:
    """Every text field of a (well-formed) body, where placeholders may stand."""
    parts = body.get("articles", []) if msgtype == "news" else [body]
    return [str(part.get(name, "")) for part in parts for name, _, _ in FIELDS[msgtype]]


def used_variables(msgtype: str, body: dict[str, Any]) -> set[str]:
    return {m.group(1) for text in strings(msgtype, body) for m in PLACEHOLDER.finditer(text)}


def body_errors(msgtype: Any, body: Any, rendered: bool = False) -> dict[str, str]:
    """Problems of a body's shape; with `rendered`, also WeCom's byte limits (only meaningful once the
    variables are in)."""
    if msgtype not in MSGTYPES:
        return {"msgtype": f"one of {', '.join(MSGTYPES)}"}
    if not isinstance(body, dict):
        return {"body": "an object"}
    if msgtype == "news":
        articles = body.get("articles")
        if set(body) != {"articles"} or not isinstance(articles, list) or not 1 <= len(articles) <= MAX_ARTICLES:
            return {"body.articles": f"1 to {MAX_ARTICLES} articles"}
        for i, article in enumerate(articles):
            problems = _part_errors(msgtype, article, f"body.articles[{i}].", rendered)
            if problems:
                return problems
        return {}
    if msgtype == "miniprogram_notice":
        return _notice_errors(body, rendered)
    return _part_errors(msgtype, body, "body.", rendered)


def _notice_errors(body: dict[str, Any], rendered: bool) -> dict[str, str]:
    """A miniprogram_notice: its strings as any part's, then the flag and the key/value items."""
    strings_only = {k: v for k, v in body.items() if k not in ("emphasis_first_item", "content_item")}
    problems = _part_errors("miniprogram_notice", strings_only, "body.", rendered)
    if problems:
        return problems
    if not isinstance(body.get("emphasis_first_item", False), bool):
        return {"body.emphasis_first_item": "true or false"}
    items = body.get("content_item", [])
    if not isinstance(items, list) or len(items) > MINIPROGRAM_ITEMS:
        return {"body.content_item": f"at most {MINIPROGRAM_ITEMS} items"}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"key", "value"} \
                or not all(isinstance(item[k], str) and item[k].strip() for k in ("key", "value")):
            return {f"body.content_item[{i}]": "an object {key, value} of non-empty strings"}
        if len(item["key"].encode()) > MINIPROGRAM_KEY_BYTES or len(item["value"].encode()) > MINIPROGRAM_VALUE_BYTES:
            return {f"body.content_item[{i}]": f"key at most {MINIPROGRAM_KEY_BYTES} bytes, value at most "
                                               f"{MINIPROGRAM_VALUE_BYTES}"}
    return {}


def _part_errors(msgtype: str, part: Any, prefix: str, rendered: bool) -> dict[str, str]:
    if not isinstance(part, dict):
        return {prefix.rstrip("."): "an object"}
    allowed = {name for name, _, _ in FIELDS[msgtype]}
    extra = sorted(set(part) - allowed)
    if extra:
        return {prefix + extra[0]: f"unknown field; {msgtype} has {', '.join(sorted(allowed))}"}
    for name, limit, required in FIELDS[msgtype]:
        value = part.get(name)
        if value is None and not required:
            continue
        if not isinstance(value, str) or (required and not value.strip()):
            return {prefix + name: "a non-empty string" if required else "a string"}
        if rendered and len(value.encode()) > limit:
            return {prefix + name: f"at most {limit} bytes once rendered"}
        if not rendered and len(value) > limit * 4:
            return {prefix + name: f"too long (WeCom takes {limit} bytes)"}
    return {}


def template_errors(category: Any, msgtype: Any, body: Any, variables: Any) -> dict[str, str]:
    """Problems of a template: its category, body shape, declared variables and placeholders."""
    if not isinstance(category, str) or category not in CATEGORY_VARIABLES:
        return {"category": f"one of {', '.join(CATEGORY_VARIABLES)}"}
    problems = body_errors(msgtype, body)
    if problems:
        return problems
    fixed = CATEGORY_VARIABLES[category]
    if fixed is not None:
        if variables not in (None, list(fixed)):
            return {"variables": f"a {category} template's variables are fixed: {', '.join(fixed)}"}
        allowed = set(fixed)
    else:
        if variables is None:
            variables = []
        if not isinstance(variables, list) or len(variables) > MAX_VARIABLES or len(set(map(str, variables))) != len(
                variables) or not all(isinstance(v, str) and VARIABLE_NAME.match(v) for v in variables):
            return {"variables": f"at most {MAX_VARIABLES} different names of letters, digits and _"}
        allowed = set(variables)
    unknown = sorted(used_variables(msgtype, body) - allowed)
    if unknown:
        return {"body": f"unknown variable {{{{{unknown[0]}}}}}; declared: {', '.join(sorted(allowed)) or 'none'}"}
    if any("{{" in PLACEHOLDER.sub("", text) or "}}" in PLACEHOLDER.sub("", text) for text in strings(msgtype, body)):
        return {"body": "a {{ or }} that is not a {{variable}}"}
    return {}


def value_errors(variables: list[str], values: Any) -> dict[str, str]:
    """A broadcast's values must name exactly the template's variables, each a string."""
    if not isinstance(values, dict):
        return {"values": "an object of variable → text"}
    unknown = sorted(set(values) - set(variables))
    if unknown:
        return {"values": f"unknown variable {unknown[0]!r}; the template has {', '.join(variables) or 'none'}"}
    missing = [v for v in variables if v not in values]
    if missing:
        return {"values": f"missing {', '.join(missing)}"}
    bad = [k for k, v in values.items() if not isinstance(v, str) or len(v) > MAX_VALUE_CHARS]
    if bad:
        return {f"values.{bad[0]}": f"a string of at most {MAX_VALUE_CHARS} characters"}
    return {}


def render(msgtype: str, body: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The body with every placeholder replaced (callers have checked the values cover them)."""
    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

    def part(p: dict[str, Any]) -> dict[str, Any]:
        return {k: fill(v) if isinstance(v, str) else v for k, v in p.items()}

    if msgtype == "news":
        return {"articles": [part(a) for a in body["articles"]]}
    return part(body)
