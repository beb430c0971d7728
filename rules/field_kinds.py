"""The custom-field kinds of manual 9.10.1 beyond plain text/number/date/choices: cascade (级联) choices,
numbers that are whole or have two decimal places, and dates with a time. Plain values in, plain values
out; rules/fields.py calls these from its definition and value checks."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_CASCADE_DEPTH = 4
"""Levels of a cascade field (province / city / district / street is the deepest the manual's examples go)."""
MAX_CASCADE_NODES = 1000
NUMBER_PLACES = (0, 2)
"""`decimals` of a number field: 0 a whole number (整数), 2 a decimal with up to two places (小数); unset,
any number (as before issue 17)."""
DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::00)?\Z")


def cascade_options_error(options: Any, max_label: int) -> str | None:
    """What is wrong with a cascade tree: nodes {"label", "children"} at most MAX_CASCADE_DEPTH deep, labels
    non-empty and distinct among siblings; None when it is right."""
    if not isinstance(options, list) or not options:
        return "a non-empty list of {label, children} choices"
    count = 0

    def walk(nodes: list[Any], depth: int) -> str | None:
        nonlocal count
        if depth > MAX_CASCADE_DEPTH:
            return f"at most {MAX_CASCADE_DEPTH} levels"
        labels = []
        for node in nodes:
            count += 1
            if not isinstance(node, dict) or set(node) - {"label", "children"}:
                return "each choice is {label, children}"
            label = node.get("label")
            if not isinstance(label, str) or not label.strip() or len(label.strip()) > max_label:
                return f"each label is a non-empty string of at most {max_label} characters"
            labels.append(label.strip())
            children = node.get("children") or []
            if not isinstance(children, list):
                return "children is a list"
            problem = walk(children, depth + 1) if children else None
            if problem:
                return problem
        if len(set(labels)) != len(labels):
            return "labels must differ among siblings"
        return None

    problem = walk(options, 1)
    if problem is None and count > MAX_CASCADE_NODES:
        return f"at most {MAX_CASCADE_NODES} choices in all"
    return problem


def clean_cascade(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored tree: labels stripped, every node with its (possibly empty) children."""
    return [{"label": o["label"].strip(), "children": clean_cascade(o.get("children") or [])} for o in options]


def cascade_value(options: tuple[Any, ...], raw: Any) -> tuple[list[str], str]:
    """A path of labels from a top choice down to a leaf: (the path, "广东/深圳/南山")."""
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ValueError("a list of labels from the top level down, e.g. [\"广东\", \"深圳\"]")
    level: list[Any] = list(options)
    for depth, label in enumerate(raw):
        node = next((n for n in level if n["label"] == label), None)
        if node is None:
            raise ValueError(f"a path of choices: {label!r} is not a choice at level {depth + 1}")
        level = node.get("children") or []
    if level:
        raise ValueError("a path down to the last level")
    return list(raw), "/".join(raw)


def places_number(raw: Any, decimals: int, limit: int) -> tuple[int | float, str]:
    """A whole number (decimals 0) or one with at most two places (decimals 2): (value, text). The text of a
    decimal keeps its two places ("12.50"), so equal amounts are one unique value."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError("a number")
    try:
        number = Decimal(raw.strip() if isinstance(raw, str) else repr(raw))
    except InvalidOperation:
        raise ValueError("a number") from None
    if not number.is_finite():
        raise ValueError("a number")
    if abs(number) >= limit:
        raise ValueError(f"a number below {limit:.0e} in size")
    exponent = number.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if decimals == 0:
        if exponent < 0:
            raise ValueError("a whole number (this field is an integer)")
        return int(number), str(int(number))
    if exponent < -decimals:
        raise ValueError(f"a number with at most {decimals} decimal places")
    value = float(number)
    return (int(value) if value.is_integer() else value), f"{number:.{decimals}f}"


def date_time_value(raw: Any) -> tuple[str, str]:
    """A date with its time to the minute, "YYYY-MM-DD HH:MM" (the wall time as typed, like a birthday)."""
    match = DATE_TIME.match(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        raise ValueError("a date and time as YYYY-MM-DD HH:MM")
    try:
        when = dt.datetime.fromisoformat(f"{match[1]}T{match[2]}:{match[3]}")
    except ValueError:
        raise ValueError("a date and time as YYYY-MM-DD HH:MM") from None
    text = when.strftime("%Y-%m-%d %H:%M")
    return text, text
