"""Message templates (manual 004 §9.13): WeCom app-message bodies with `{{variable}}` placeholders.

A template has a category. Broadcast templates (员工消息下发, §9.5) declare their own variables and the
broadcast supplies the values; the notification categories (sensitive-word alert, reply timeout) have a
fixed set of variables the service fills in, and a corp's enabled template of that category replaces the
built-in wording. A placeholder that names no known variable is refused when the template is saved, and a
broadcast must give exactly the declared variables, so nothing is ever sent with `{{...}}` in it.

Bodies are the WeCom message/send shapes (doc 90236) for the four kinds staff messages use: text and
markdown (`content`), textcard (`title`, `description`, `url`, `btntxt`), news (`articles`, 1-8, each with
`title`, `description`, `url`, `picurl`). Limits are WeCom's, in UTF-8 bytes, checked on the rendered text.
"""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,31})\s*\}\}")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}\Z")
MAX_VARIABLES = 20
MAX_VALUE_CHARS = 500

BROADCAST = "broadcast"
SENSITIVE_WORD = "sensitive_word"
REPLY_TIMEOUT = "reply_timeout"
CATEGORY_VARIABLES: dict[str, tuple[str, ...] | None] = {
    BROADCAST: None,  # declared per template
    SENSITIVE_WORD: ("staff", "customer", "words", "category", "content", "time"),
    REPLY_TIMEOUT: ("staff", "customer", "content", "time", "minutes"),
}
MAX_PER_NOTIFICATION_CATEGORY = 3
"""§9.13.1: at most three templates per notification category."""

MSGTYPES = ("text", "markdown", "textcard", "news")
# (field, byte limit, required) per msgtype; news fields are per article
FIELDS: dict[str, tuple[tuple[str, int, bool], ...]] = {
    "text": (("content", 2048, True),),
    "markdown": (("content", 2048, True),),
    "textcard": (("title", 128, True), ("description", 512, True), ("url", 2048, True), ("btntxt", 12, False)),
    "news": (("title", 128, True), ("description", 512, False), ("url", 2048, False), ("picurl", 2048, False)),
}
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
    return _part_errors(msgtype, body, "body.", rendered)


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
