"""Which assignment rule takes a new lead (线索自动分配, 004 §9.9.2), and to whom: pure functions, no DB.

A rule's conditions are a group: `{"match": "all" | "any", "conditions": [...]}` (match defaults to "all",
AND), each item a condition `{"field", "op", "value"}` or a group of conditions: two levels at most, so a
nested group holds conditions only. An empty group restricts nothing (it is true whatever its match), so a
rule with no conditions takes every lead that reaches it.

Fields: the lead's text fields (name, mobile, gender, company, position, source), `tags` (the lead's tag
ids) and `fields.<key>` (a custom field's text). Operators on text: eq, neq, contains, in (value: a list),
empty, not_empty; on tags: eq (has the tag), neq (has not), contains (has one whose name contains value),
in (has one of the list), empty, not_empty. Text is compared as given, after trimming.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

TEXT_FIELDS = ("name", "mobile", "gender", "company", "position", "source")
OPS = ("eq", "neq", "contains", "in", "empty", "not_empty")
VALUELESS = ("empty", "not_empty")
MAX_ITEMS = 50


def _field_ok(name: Any) -> bool:
    return isinstance(name, str) and (name in TEXT_FIELDS or name == "tags"
                                      or (name.startswith("fields.") and len(name) > 7))


def condition_errors(cond: Any, where: str) -> list[str]:
    if not isinstance(cond, dict) or set(cond) - {"field", "op", "value"}:
        return [f"{where}: a condition is {{field, op, value}}"]
    out = []
    if not _field_ok(cond.get("field")):
        out.append(f"{where}.field: one of {', '.join(TEXT_FIELDS)}, tags or fields.<key>")
    op, value = cond.get("op"), cond.get("value")
    if op not in OPS:
        out.append(f"{where}.op: one of {', '.join(OPS)}")
    elif op == "in":
        if not (isinstance(value, list) and value and all(isinstance(v, str | int) for v in value)):
            out.append(f"{where}.value: a non-empty list for in")
    elif op not in VALUELESS and not isinstance(value, str | int):
        out.append(f"{where}.value: text (or a tag id) for {op}")
    return out


def group_errors(group: Any, depth: int = 1, where: str = "conditions") -> list[str]:
    """What is wrong with a rule's conditions (empty: nothing)."""
    if not isinstance(group, dict) or set(group) - {"match", "conditions"}:
        return [f"{where}: a group is {{match, conditions}}"]
    out = []
    if group.get("match", "all") not in ("all", "any"):
        out.append(f"{where}.match: all or any")
    items = group.get("conditions", [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        return [*out, f"{where}.conditions: a list of at most {MAX_ITEMS}"]
    for n, item in enumerate(items):
        here = f"{where}.conditions[{n}]"
        if isinstance(item, dict) and "conditions" in item:
            out += [f"{here}: groups nest two levels at most"] if depth >= 2 else group_errors(item, depth + 1, here)
        else:
            out += condition_errors(item, here)
    return out


def _holds(cond: Mapping[str, Any], lead: Mapping[str, Any], tag_names: Mapping[str, str]) -> bool:
    field, op, value = cond["field"], cond["op"], cond.get("value")
    if field == "tags":
        tags = {str(t) for t in lead.get("tags", ())}
        if op == "eq":
            return str(value) in tags
        if op == "neq":
            return str(value) not in tags
        if op == "contains":
            return any(str(value) in tag_names.get(t, "") for t in tags)
        if op == "in":
            return bool(tags & {str(v) for v in value or ()})
        return (not tags) if op == "empty" else bool(tags)
    text = str(lead.get(field) or "").strip()
    if op == "eq":
        return text == str(value).strip()
    if op == "neq":
        return text != str(value).strip()
    if op == "contains":
        return str(value).strip() in text
    if op == "in":
        return text in {str(v).strip() for v in value or ()}
    return (not text) if op == "empty" else bool(text)


def matches(group: Mapping[str, Any], lead: Mapping[str, Any], tag_names: Mapping[str, str] | None = None) -> bool:
    """Does `lead` (field → text, "tags" → tag ids, "fields.<key>" → text) meet `group`?"""
    items = group.get("conditions") or []
    if not items:
        return True
    results = (matches(item, lead, tag_names) if "conditions" in item else _holds(item, lead, tag_names or {})
               for item in items)
    return any(results) if group.get("match", "all") == "any" else all(results)


def round_robin(targets: Sequence[str], turn: int) -> str:
    """The target of the rule's `turn`th assignment (1-based: the turn after the bump)."""
    return targets[(turn - 1) % len(targets)]


def at_random(targets: Sequence[str], rng: random.Random | None = None) -> str:
    return (rng or random).choice(list(targets))


def even_split(members: Sequence[str], held: Mapping[str, int], count: int) -> list[str]:
    """Who takes each of `count` leads so that every member ends with as equal a load as can be: each lead
    to the one holding fewest (`held`: their open leads now), ties in `members`' order."""
    load = {m: held.get(m, 0) for m in members}
    order = {m: n for n, m in enumerate(members)}
    out = []
    for _ in range(count):
        taker = min(load, key=lambda m: (load[m], order[m]))
        load[taker] += 1
        out.append(taker)
    return out
