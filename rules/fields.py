"""Customer custom fields (001 字段设置): what a field definition may say, and what a value of each type
must look like before it is stored.

Everything here works on plain values: the API hands in the request body and the fields as `FieldSpec`s,
and gets back either the cleaned values or field → message for every problem, so one answer names all
that is wrong and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace
from typing import Any

from models.fields import CustomField, FieldSubject, FieldType
from rules.field_kinds import (NUMBER_PLACES, cascade_options_error, cascade_value, clean_cascade, date_time_value,
                               places_number)

KEY_PATTERN = r"[a-z][a-z0-9_]{0,63}"
"""A field key, whole (`KEY.fullmatch`; pydantic's Rust regex takes it as `^…$`, whose `$` is the end of the text)."""
KEY = re.compile(KEY_PATTERN)
MAX_LABEL = 64
MAX_OPTIONS = 100
MAX_OPTION = 64
MAX_TEXT = 191  # the canonical text is a String(191) column: the longest utf8mb4 string MySQL indexes
MAX_NUMBER = 10**15  # beyond this a float no longer holds every whole number: keep numbers exact
MAX_ORDER = 1_000_000
CHOICE_TYPES = (FieldType.select.value, FieldType.multi_select.value)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
MOBILE = re.compile(r"^1[3-9]\d{9}\Z")  # mainland mobile numbers
LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}\Z")  # area code with its leading 0, then 7 or 8 digits
PHONE_NOISE = re.compile(r"[\s\-()（）]")
FLAGS = ("required", "unique", "visible", "enabled")
KINDS = ("decimals", "with_time", "default")  # issue 17: a number's places, a date's time, the default option


@dataclass(frozen=True)
class FieldSpec:
    """A field definition as the rules see it."""

    key: str
    label: str
    type: str
    options: tuple[str, ...] = ()
    required: bool = False
    unique: bool = False
    visible: bool = True
    enabled: bool = True
    decimals: int | None = None
    with_time: bool = False
    default: Any = None


def spec_of(field: CustomField) -> FieldSpec:
    return FieldSpec(field.key, field.label, field.type, tuple(field.options or ()), field.required, field.unique,
                     field.visible, field.enabled, field.decimals, field.with_time, field.default)


# -- definitions -------------------------------------------------------------------------------------------
def _options_error(options: Any) -> str | None:
    if not isinstance(options, list) or not options:
        return "a non-empty list of choices"
    if len(options) > MAX_OPTIONS:
        return f"at most {MAX_OPTIONS} choices"
    if not all(isinstance(o, str) and o.strip() and len(o.strip()) <= MAX_OPTION for o in options):
        return f"each choice is a non-empty string of at most {MAX_OPTION} characters"
    if len({o.strip() for o in options}) != len(options):
        return "choices must differ"
    return None


def definition_errors(body: dict[str, Any], current: FieldSpec | None = None) -> dict[str, str]:
    """Field → message for every problem in a new definition (`current` None) or a change to `current`.

    Key and type are fixed once a field exists: values were checked against the type, and integrations
    address the field by key. A unique multi-select would make each combination of choices unique, which
    no one means, so it is refused.
    """
    errors: dict[str, str] = {}
    allowed = {"key", "label", "type", "options", "order", *FLAGS, *KINDS}
    creating = {"corp_id", "subject"} if current is None else set()
    errors |= {k: "unknown property" for k in body if k not in allowed | creating}
    if current is None:
        if not isinstance(body.get("key"), str) or not KEY.fullmatch(body["key"]):
            errors["key"] = "required: a lower-case letter, then letters, digits or _ (at most 64)"
        if body.get("subject", FieldSubject.customer.value) not in FieldSubject.__members__:
            errors["subject"] = f"one of {', '.join(FieldSubject.__members__)}"
        if body.get("type") not in FieldType.__members__:
            errors["type"] = f"required: one of {', '.join(FieldType.__members__)}"
    else:
        for fixed in ("key", "type"):
            if fixed in body and body[fixed] != getattr(current, fixed):
                errors[fixed] = f"cannot change once the field exists (it is {getattr(current, fixed)!r})"
    if current is None or "label" in body:
        label = body.get("label")
        if not isinstance(label, str) or not label.strip() or len(label.strip()) > MAX_LABEL:
            errors["label"] = f"required: at most {MAX_LABEL} characters"
    kind = current.type if current is not None else body.get("type")
    if kind == FieldType.cascade.value and (current is None or "options" in body):
        problem = cascade_options_error(body.get("options"), MAX_OPTION)
        if problem:
            errors["options"] = problem
    elif kind in CHOICE_TYPES and (current is None or "options" in body):
        problem = _options_error(body.get("options"))
        if problem:
            errors["options"] = problem
    elif kind not in (*CHOICE_TYPES, FieldType.cascade.value) and body.get("options") not in (None, []):
        errors["options"] = f"only {', '.join(CHOICE_TYPES)} and cascade fields have choices"
    for flag in FLAGS:
        if flag in body and not isinstance(body[flag], bool):
            errors[flag] = "true or false"
    unique = body.get("unique", current.unique if current is not None else False)
    if kind == FieldType.multi_select.value and unique is True:
        errors["unique"] = "a multi_select field cannot be unique"
    order = body.get("order", 0)
    if type(order) is not int or not -MAX_ORDER <= order <= MAX_ORDER:
        errors["order"] = f"a whole number from {-MAX_ORDER} to {MAX_ORDER}"
    return errors | _kind_errors(body, current, kind, unique)


def _kind_errors(body: dict[str, Any], current: FieldSpec | None, kind: Any, unique: Any) -> dict[str, str]:
    """A number's places, a date's time, and the default, which must be a value the field would take."""
    errors: dict[str, str] = {}
    if body.get("decimals") is not None and (kind != FieldType.number.value or body["decimals"] not in NUMBER_PLACES):
        errors["decimals"] = "number fields only: 0 (integer) or 2 (two decimal places)"
    if body.get("with_time") and kind != FieldType.date.value:
        errors["with_time"] = "date fields only"
    if errors or body.get("default", current.default if current else None) is None:
        return errors
    if unique is True:
        return {"default": "a unique field has no default"}
    try:
        canonical(_merged(body, current), body.get("default", current.default if current else None))
    except (ValueError, KeyError, TypeError) as exc:
        return {"default": f"must be a value of the field: {exc}"}
    return {}


def _merged(body: dict[str, Any], current: FieldSpec | None) -> FieldSpec:
    """The field as it would be after `body`: what the default (and stored values) must fit."""
    base = current or FieldSpec(body.get("key", ""), body.get("label", ""), body.get("type", ""))
    changed = {k: body[k] for k in ("options", "decimals", "with_time", "default") if k in body}
    if "options" in changed:
        changed["options"] = tuple(changed["options"] or ())
    return replace(base, **changed)


def clean_definition(body: dict[str, Any], current: FieldSpec | None = None) -> dict[str, Any]:
    """The stored form of a definition (or change to `current`) that passed `definition_errors`; the
    default is stored in its canonical form."""
    out = {k: body[k] for k in ("key", "subject", "type", "order", "decimals", "with_time", *FLAGS) if k in body}
    if "label" in body:
        out["label"] = body["label"].strip()
    if "options" in body and body["options"] is not None:
        cascade = (current.type if current else body.get("type")) == FieldType.cascade.value
        out["options"] = clean_cascade(body["options"]) if cascade else [o.strip() for o in body["options"]]
    if "default" in body:
        result = canonical(_merged({**body, **out}, current), body["default"])
        out["default"] = None if result is None else result[0]
    return out


# -- values ------------------------------------------------------------------------------------------------
def _number(raw: Any) -> int | float:
    if isinstance(raw, str):
        try:
            raw = float(raw.strip()) if any(c in raw for c in ".eE") else int(raw.strip())
        except ValueError:
            raise ValueError("a number") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ValueError("a number")
    if abs(raw) >= MAX_NUMBER:
        raise ValueError(f"a number below {MAX_NUMBER:.0e} in size")
    return int(raw) if isinstance(raw, float) and raw.is_integer() else raw


def _phone(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("a phone number as a string")
    digits = PHONE_NOISE.sub("", raw)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and MOBILE.match(digits[len(prefix):]):
            digits = digits[len(prefix):]
    if not (MOBILE.match(digits) or LANDLINE.match(digits)):
        raise ValueError("a mainland mobile (11 digits, 1[3-9]…) or a landline with its area code (0…)")
    return digits


def canonical(spec: FieldSpec, raw: Any) -> tuple[Any, str] | None:
    """(value to store, its canonical text) for `raw`, or None when `raw` clears the field (null, "", []).

    Raises ValueError with what was expected.
    """
    if raw is None or raw == "" or raw == []:
        return None
    kind = spec.type
    if kind == FieldType.text.value:
        if not isinstance(raw, str):
            raise ValueError("text")
        value = raw.strip()
        if len(value) > MAX_TEXT:
            raise ValueError(f"at most {MAX_TEXT} characters")
        return (value, value) if value else None
    if kind == FieldType.number.value:
        if spec.decimals is not None:
            return places_number(raw, spec.decimals, MAX_NUMBER)
        number = _number(raw)
        return number, repr(number)
    if kind == FieldType.date.value and spec.with_time:
        return date_time_value(raw)
    if kind == FieldType.cascade.value:
        return cascade_value(spec.options, raw)
    if kind == FieldType.date.value:
        if not isinstance(raw, str) or not DATE.match(raw.strip()):
            raise ValueError("a date as YYYY-MM-DD")
        try:
            day = dt.date.fromisoformat(raw.strip())
        except ValueError:
            raise ValueError("a date as YYYY-MM-DD") from None
        return day.isoformat(), day.isoformat()
    if kind == FieldType.select.value:
        if raw not in spec.options:
            raise ValueError(f"one of: {', '.join(spec.options)}")
        return raw, raw
    if kind == FieldType.multi_select.value:
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise ValueError("a list of choices")
        unknown = [v for v in raw if v not in spec.options]
        if unknown:
            raise ValueError(f"not a choice: {', '.join(unknown)}")
        if len(set(raw)) != len(raw):
            raise ValueError("each choice at most once")
        chosen = [o for o in spec.options if o in raw]  # the options' order: equal sets, equal values
        return chosen, "、".join(chosen)[:MAX_TEXT]
    if kind == FieldType.phone.value:
        phone = _phone(raw)
        return phone, phone
    raise ValueError(f"unknown field type {kind!r}")


def check_values(specs: list[FieldSpec], changes: dict[str, Any],
                 current: dict[str, Any]) -> tuple[dict[str, tuple[Any, str] | None], dict[str, str]]:
    """Validate a change of one customer's values.

    `specs` are the fields the writer may see (members: the visible ones), `changes` the body (key →
    new value, null clears) and `current` key → the stored value. Returns (key → canonical value or None
    to clear, key → message); a required field must hold a value once the change is applied, whether or
    not this change touches it. A row's first write (nothing stored) takes the default of each field it
    leaves out, as a form shows the default pre-selected.
    """
    by_key = {s.key: s for s in specs}
    cleaned: dict[str, tuple[Any, str] | None] = {}
    errors: dict[str, str] = {}
    for key, raw in changes.items():
        spec = by_key.get(key)
        if spec is None:
            errors[key] = "unknown field"
            continue
        try:
            cleaned[key] = canonical(spec, raw)
        except ValueError as exc:
            errors[key] = f"must be {exc}"
    if not current:
        for spec in specs:
            if spec.default is not None and spec.key not in changes:
                cleaned[spec.key] = canonical(spec, spec.default)
    for spec in specs:
        if spec.required and spec.key not in errors:
            present = cleaned[spec.key] is not None if spec.key in cleaned else current.get(spec.key) is not None
            if not present:
                errors[spec.key] = "required"
    return cleaned, errors
