"""Which corp, and which of its apps, an admin API call acts on."""

from __future__ import annotations

from flask import g
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import App, Corp
from web.errors import ApiError

# The app whose secret calls the customer-contact APIs: a 客户联系 app if the corp has one, else its
# self-built app (which then must be listed under 客户联系 → 可调用接口的应用).
APP_PREFERENCE = {"contact": 0, "agent": 1, "kf": 2}


def corp_and_app(session: Session, requested: str | None) -> tuple[str, int]:
    """(corp_id, app pk) for this call: the token's corp, else `requested`, else the only corp there is."""
    principal = g.principal
    corp_id = principal.corp_id or requested
    if corp_id is None:
        corps = session.scalars(select(Corp.corp_id).limit(2)).all()
        if len(corps) != 1:
            raise ApiError(400, "bad_request", "several corps are configured: say which with corp_id")
        corp_id = corps[0]
    elif requested and principal.corp_id and requested != principal.corp_id:
        raise ApiError(403, "forbidden", "this token belongs to another corp")
    apps = session.execute(select(App.id, App.kind).join(Corp).where(Corp.corp_id == corp_id)).all()
    if not apps:
        raise ApiError(404, "not_found", f"no app configured for corp {corp_id}")
    return corp_id, min(apps, key=lambda a: (APP_PREFERENCE.get(a.kind, 9), a.id)).id
