"""What writing a company and a contact share (web/api_companies.py, web/api_contacts.py): whose the record
is, turning a body into columns, the created-day filter, the recent follow-ups on a detail page, and the
soft delete only a super_admin reaches (000 §5.6, §6.6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models import FollowUp
from models.db import utcnow
from web.api_customers import _day_range
from web.api_follow_ups import _render as render_follow_ups
from web.auth import audit
from web.errors import ApiError
from web.sales_scope import actor
from web.scope import corp_and_app

RECENT_FOLLOW_UPS = 20


def owner_of(given: str | None, what: str) -> str | None:
    """The 负责人 a write sets: a member's own (naming another is a 403), else the one given."""
    principal = g.principal
    if principal.is_member and given not in (None, principal.userid):
        raise ApiError(403, "forbidden", f"a member token makes itself the owner of its {what}")
    return str(principal.userid) if principal.is_member else given


def columns(model: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """Body fields (JSON mode) as `model`'s columns: `owner` is `owner_userid`, and null is the column's
    default where the column holds no null ("" or false)."""
    out = {}
    for key, value in fields.items():
        column = "owner_userid" if key == "owner" else key
        if value is None and not model.__table__.c[column].nullable:
            value = model.__table__.c[column].default.arg
        out[column] = value
    return out


def new_row(s: Session, model: Any, body: Any) -> Any:
    """A company or contact from a create body, in the call's corp, its owner as `owner_of` says; not yet
    in the session, so that its links can be checked first."""
    corp_id, _ = corp_and_app(s, body.corp_id)
    fields = body.model_dump(mode="json", exclude={"corp_id"}) | {"owner": owner_of(body.owner, model.__tablename__)}
    return model(corp_id=corp_id, created_by=actor(), **columns(model, fields))


def save_new(s: Session, row: Any, noun: str, **detail: Any) -> None:
    s.add(row)
    s.flush()
    audit(s, f"{noun}.create", f"{noun}:{row.id}", name=row.name, **detail)


def apply_edits(s: Session, row: Any, body: Any, noun: str, check: Callable[[dict[str, Any]], None]) -> None:
    """Apply a PATCH body to `row` (a field left out stays, null clears it; the name cannot be cleared, and a
    member gives it to nobody else) once `check(changes)` (its links) has passed, and audit it."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise ApiError(422, "invalid", "name: required, it cannot be cleared", {"name": "required"})
    if "owner" in changes:
        owner_of(changes["owner"] or "", type(row).__tablename__)
    changes = columns(type(row), changes)
    check(changes)
    for column, value in changes.items():
        setattr(row, column, value)
    audit(s, f"{noun}.update", f"{noun}:{row.id}", **body.model_dump(mode="json", exclude_unset=True))
    s.flush()


def created_between(query: Select, model: Any, start: Any, end: Any) -> Select:
    """`created_from`/`created_to`: corp-local days, both inclusive."""
    window = _day_range(model.corp_id, model.created_at, start, end, "created")
    return query if window is None else query.where(window)


def recent_follow_ups(s: Session, column: Any, key: int) -> list[dict[str, Any]]:
    """The newest follow-ups on one company or contact, for its detail."""
    rows = s.scalars(select(FollowUp).where(column == key).order_by(FollowUp.at.desc(), FollowUp.id.desc())
                     .limit(RECENT_FOLLOW_UPS))
    return render_follow_ups(s, list(rows))


def soft_delete(s: Session, row: Any, noun: str, **detail: Any) -> None:
    """Hide `row` from every list and lookup (it stays for the audit)."""
    row.deleted_at, row.deleted_by = utcnow(), actor()
    audit(s, f"{noun}.delete", f"{noun}:{row.id}", name=row.name, **detail)
