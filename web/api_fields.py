"""Custom fields (001 字段设置, 004 §9.10) of customers and of customer groups (`subject`): admins define
them (type, choices, required, unique, visible, order); everyone reads the definitions they may see
(members: the visible ones). Values are set through `PUT /customers/<id>/fields` (web/api_customers.py)
and `PUT /groups/<chat_id>/fields` (web/api_groups.py), both by web/field_values.py.

A change never leaves a stored value invalid: removing a choice that customers hold, or making a field
unique while two customers share a value, is refused with 409 and says how many customers are in the way.
Making a field required asks nothing of customers until their values are next written (as a form would).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CustomField, Role
from models.db import utcnow
from models.fields import VALUE_MODELS
from rules.fields import canonical, clean_definition, definition_errors, spec_of
from web import errors
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import Items
from web.schemas.fields import DeletedField, FieldChange, FieldDefinition, FieldOut, FieldQuery
from web.scope import corp_and_app

bp = Blueprint("api_fields", __name__, url_prefix="/api/v1")
errors.register(bp)


def _runtime() -> Any:
    return current_app.extensions["scrm"]


def field_json(f: CustomField) -> dict[str, Any]:
    return {"id": f.id, "corp_id": f.corp_id, "subject": f.subject, "key": f.key, "label": f.label, "type": f.type,
            "options": list(f.options or []), "required": f.required, "unique": f.unique, "visible": f.visible,
            "order": f.order, "enabled": f.enabled, "default": f.default, "decimals": f.decimals,
            "with_time": f.with_time}


def _live(s: Session, field_id: int) -> CustomField:
    f = s.get(CustomField, field_id)
    if f is None or f.deleted_at is not None or (g.principal.corp_id and f.corp_id != g.principal.corp_id):
        raise ApiError(404, "not_found", f"no custom field {field_id}")
    return f


@bp.get("/custom-fields")
@require(Role.member)
@endpoint("Custom field definitions of customers or (subject=group) customer groups (members: the visible ones)",
          query=FieldQuery, response=Items[FieldOut])
def list_fields(query: FieldQuery) -> Any:
    rows = select(CustomField).where(CustomField.deleted_at.is_(None), CustomField.subject == query.subject.value)
    corp_id = g.principal.corp_id or query.corp_id
    if corp_id:
        rows = rows.where(CustomField.corp_id == corp_id)
    if g.principal.is_member:
        rows = rows.where(CustomField.visible.is_(True), CustomField.enabled.is_(True))
    with _runtime().Session() as s:
        items = [field_json(f) for f in s.scalars(rows.order_by(CustomField.corp_id, CustomField.order,
                                                                  CustomField.id))]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/custom-fields")
@require(Role.admin)
@endpoint("Define a custom field of customers or (subject=group) of customer groups", body=FieldDefinition,
          response=FieldOut, status=201)
def create_field(body: FieldDefinition) -> Any:
    definition = body.model_dump(exclude_unset=True, exclude={"corp_id"}, mode="json")
    problems = definition_errors(definition)
    if problems:
        raise ApiError(422, "invalid", "the field definition has errors", problems)
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        taken = s.scalar(select(CustomField).where(CustomField.corp_id == corp_id, CustomField.key == body.key))
        if taken is not None:
            why = "a deleted field used it; pick another key" if taken.deleted_at else "it exists"
            raise ApiError(409, "conflict", f"custom field key {body.key!r}: {why}", {"key": why})
        f = CustomField(corp_id=corp_id, **({"options": []} | clean_definition(definition)))
        s.add(f)
        s.flush()
        audit(s, "custom_field.create", f"custom_field:{f.id}", key=f.key, type=f.type)
        return jsonify(field_json(f)), 201


def _blockers(s: Session, f: CustomField, changes: dict[str, Any]) -> dict[str, str]:
    """What stored values say against `changes`: values a narrowed choice list (or a number's places, a
    date's time) no longer allows, and values
    shared by several customers (or groups) when the field becomes unique."""
    model = VALUE_MODELS.get(f.subject)  # a lead's values live on the lead (models/lead.py): none checked here
    rows = s.execute(select(model.value, model.text).where(model.field_id == f.id)).all() if model else []
    out: dict[str, str] = {}
    narrowing = [k for k in ("options", "decimals", "with_time") if k in changes]
    if narrowing:
        updates: dict[str, Any] = {k: tuple(v) if k == "options" else v for k, v in changes.items() if k in narrowing}
        narrowed = replace(spec_of(f), **updates)
        bad = 0
        for value, _ in rows:
            try:
                canonical(narrowed, value)
            except ValueError:
                bad += 1
        if bad:
            out[narrowing[0]] = (f"{bad} {f.subject}(s) hold a choice this removes" if narrowing[0] == "options"
                                 else f"{bad} {f.subject}(s) hold a value this change would not allow")
    if changes.get("unique") and not f.unique:
        shared = sum(1 for n in Counter(text for _, text in rows).values() if n > 1)
        if shared:
            out["unique"] = f"{shared} value(s) are shared by several {f.subject}s"
    return out


@bp.patch("/custom-fields/<id:field_id>")
@require(Role.admin)
@endpoint("Change a custom field (key and type are fixed; 409 if stored values stand in the way)",
          body=FieldChange, response=FieldOut)
def update_field(field_id: int, body: FieldChange) -> Any:
    change = body.model_dump(exclude_unset=True, mode="json")
    with _runtime().WriteSession.begin() as s:
        f = _live(s, field_id)
        problems = definition_errors(change, spec_of(f))
        if problems:
            raise ApiError(422, "invalid", "the field definition has errors", problems)
        changes = clean_definition(change, spec_of(f))
        blockers = _blockers(s, f, changes)
        if blockers:
            raise ApiError(409, "conflict", "stored values stand in the way of this change", blockers)
        for key, value in changes.items():
            setattr(f, key, value)
        if "unique" in changes and f.subject in VALUE_MODELS:
            model = VALUE_MODELS[f.subject]
            for row in s.scalars(select(model).where(model.field_id == f.id)):
                row.unique_text = row.text if f.unique else None
        audit(s, "custom_field.update", f"custom_field:{f.id}", **changes)
        return jsonify(field_json(f))


@bp.delete("/custom-fields/<id:field_id>")
@require(Role.admin)
@endpoint("Delete a custom field (its key stays taken)", response=DeletedField)
def delete_field(field_id: int) -> Any:
    """The field disappears from every customer; its values stay in the DB and its key stays taken."""
    with _runtime().WriteSession.begin() as s:
        f = _live(s, field_id)
        f.deleted_at = utcnow()
        audit(s, "custom_field.delete", f"custom_field:{f.id}", key=f.key)
        return jsonify(field_json(f) | {"deleted": True})
