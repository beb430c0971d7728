"""Writing one row's custom field values (001 字段设置, 004 §9.10), whatever the subject: a customer
(`PUT /customers/<id>/fields`) or a customer group (`PUT /groups/<chat_id>/fields`). The checks are
rules/fields.py's; here is what touches the DB: the fields the caller may write (members: the visible
ones), the row's stored values, the unique check against other rows, and the write, all or nothing."""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.fields import VALUE_MODELS, CustomField, owner_of
from rules.fields import check_values, spec_of
from web.errors import ApiError

__all__ = ["live_fields", "write_values"]

TAKEN = "already used by another {what}"


def live_fields(subject: str, corps: Any) -> Select:
    """The live, enabled fields of `subject` in `corps` (a corp id or a collection of them) that this token
    may see (members: the visible ones), in their order."""
    query = select(CustomField).where(CustomField.subject == subject, CustomField.deleted_at.is_(None),
                                      CustomField.enabled.is_(True))
    query = query.where(CustomField.corp_id == corps if isinstance(corps, str) else CustomField.corp_id.in_(corps))
    if g.principal.is_member:
        query = query.where(CustomField.visible.is_(True))
    return query.order_by(CustomField.order, CustomField.id)


def write_values(s: Session, subject: str, corp_id: str, owner_id: int, values: dict[str, Any],
                 what: str) -> list[str]:
    """Set `values` (key → value, null clears) on row `owner_id` of `subject`: 422 naming every bad key,
    409 for a unique value another `what` holds; nothing is written unless everything is right. Returns the
    keys written."""
    if not values:
        raise ApiError(400, "bad_request", "send field key → value (null clears the field)")
    model = VALUE_MODELS[subject]
    owner = owner_of(model)
    by_key = {f.key: f for f in s.scalars(live_fields(subject, corp_id))}
    rows = {v.field_id: v for v in s.scalars(select(model).where(owner == owner_id))}
    current = {key: rows[f.id].value for key, f in by_key.items() if f.id in rows}
    cleaned, problems = check_values([spec_of(f) for f in by_key.values()], values, current)
    if problems:
        raise ApiError(422, "invalid", "the field values have errors", problems)
    taken = {key: TAKEN.format(what=what) for key, result in cleaned.items()
             if result is not None and by_key[key].unique and s.scalar(select(model.id).where(
                 model.field_id == by_key[key].id, model.unique_text == result[1], owner != owner_id)) is not None}
    if taken:
        raise ApiError(409, "conflict", "a unique field's value is taken", taken)
    for key, result in cleaned.items():
        fld, row = by_key[key], rows.get(by_key[key].id)
        if result is None:
            if row is not None:
                s.delete(row)
            continue
        if row is None:
            row = model(field_id=fld.id, **{owner.key: owner_id})
            s.add(row)
        row.value, row.text = result
        row.unique_text = result[1] if fld.unique else None
    try:
        s.flush()
    except IntegrityError:  # a concurrent writer took a unique value between our check and our write
        raise ApiError(409, "conflict", "a unique field's value is taken",
                       {k: TAKEN.format(what=what) for k in cleaned if by_key[k].unique}) from None
    return sorted(cleaned)
