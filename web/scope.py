"""Which corp, and which of its apps, an admin API call acts on.

Every read and write is bound to the token's corp (`g.principal.corp_id`, web/auth.py): a row of another
corp is answered as absent (404), a request naming another corp is refused (403). A token issued for
every corp (admin, super_admin) names the corp with `corp_id` where a write needs one."""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models import App, Corp, CustomField
from web.errors import ApiError

# The app whose secret calls the customer-contact APIs: a 客户联系 app if the corp has one, else its
# self-built app (which then must be listed under 客户联系 → 可调用接口的应用).
APP_PREFERENCE = {"contact": 0, "agent": 1, "kf": 2}


def in_scope(corp_id: str) -> bool:
    """May this token see or touch a row of `corp_id`?"""
    return g.principal.corp_id in (None, corp_id)


def live_rows(model: Any) -> Select:
    """Rows of `model` (a model with corp_id and deleted_at) not deleted, in this token's corps, oldest first."""
    rows = select(model).where(model.deleted_at.is_(None)).order_by(model.id)
    return rows.where(model.corp_id == g.principal.corp_id) if g.principal.corp_id else rows


def check_corp(requested: str | None) -> None:
    """Refuse (403) a request naming a corp other than the token's own."""
    if requested is not None and not in_scope(requested):
        raise ApiError(403, "forbidden", "this token belongs to another corp")


def corp_and_app(session: Session, requested: str | None) -> tuple[str, int]:
    """(corp_id, app pk) for this call: the token's corp, else `requested`, else the only corp there is."""
    principal = g.principal
    corp_id = principal.corp_id or requested
    if corp_id is None:
        corps = session.scalars(select(Corp.corp_id).limit(2)).all()
        if len(corps) != 1:
            raise ApiError(400, "bad_request", "several corps are configured: say which with corp_id")
        corp_id = corps[0]
    else:
        check_corp(requested)
    apps = session.execute(select(App.id, App.kind).join(Corp).where(Corp.corp_id == corp_id)).all()
    if not apps:
        raise ApiError(404, "not_found", f"no app configured for corp {corp_id}")
    return corp_id, min(apps, key=lambda a: (APP_PREFERENCE.get(a.kind, 9), a.id)).id


def hidden_field_keys(session: Session, corp_id: str) -> set[str]:
    """Keys of the corp's custom fields a member may not see (visible off, 001 字段设置 是否可见); empty for
    admins. A member sees neither such a field's value nor that it changed."""
    if not g.principal.is_member:
        return set()
    return set(session.scalars(select(CustomField.key).where(CustomField.corp_id == corp_id,
                                                             CustomField.visible.is_(False))))


def timeline_detail(kind: str, detail: dict[str, Any], hidden: set[str]) -> dict[str, Any] | None:
    """A timeline entry's detail with the hidden fields' keys taken out; None when nothing visible is left."""
    if kind != "fields_changed" or not hidden:
        return detail
    keys = [k for k in detail.get("fields", []) if k not in hidden]
    return {**detail, "fields": keys} if keys else None
