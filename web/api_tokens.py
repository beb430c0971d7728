"""Admin API tokens over the API: list (never the token itself), create (shown once), revoke.

super_admin only. A super_admin token bound to a corp lists, creates and revokes that corp's tokens only,
and cannot create a token for every corp (that would reach past its own corp).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import select

from models import ApiToken, Role
from web import errors
from web.api import _json_object, _page
from web.auth import audit, expiry, issue_token, require, revoke_token
from web.errors import ApiError
from web.scope import check_corp

bp = Blueprint("api_tokens", __name__, url_prefix="/api/v1")
errors.register(bp)


def _optional_text(body: dict[str, Any], key: str, problems: dict[str, str]) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        problems[key] = "a string"
        return None
    return value or None


@bp.get("/tokens")
@require(Role.super_admin)
def list_tokens() -> Any:
    query = select(ApiToken).order_by(ApiToken.id)
    if g.principal.corp_id:
        query = query.where(ApiToken.corp_id == g.principal.corp_id)
    return _page(query, ApiToken.public)


@bp.post("/tokens")
@require(Role.super_admin)
def create_api_token() -> Any:
    """{name, role, userid?, corp_id?, expires_in? | expires_at?}: 201 with the token, shown this once."""
    body = _json_object()
    problems: dict[str, str] = {}
    name, role = _optional_text(body, "name", problems), _optional_text(body, "role", problems)
    userid, corp_id = _optional_text(body, "userid", problems), _optional_text(body, "corp_id", problems)
    expires_in = _optional_text(body, "expires_in", problems)
    expires_at = _optional_text(body, "expires_at", problems)
    if problems:
        raise ApiError(422, "invalid", "the token has errors", problems)
    check_corp(corp_id)
    corp_id = corp_id or g.principal.corp_id
    try:
        until = expiry(expires_in, expires_at)
        with current_app.extensions["scrm"].WriteSession.begin() as s:
            row, value = issue_token(s, name or "", role or "", userid=userid, corp_id=corp_id, expires_at=until)
            audit(s, "token.create", f"token:{row.id}", name=row.name, role=row.role, userid=userid,
                  corp_id=row.corp_id)
            out = row.public()
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    return jsonify({**out, "token": value}), 201


@bp.post("/tokens/<int:token_id>/revoke")
@require(Role.super_admin)
def revoke_api_token(token_id: int) -> Any:
    with current_app.extensions["scrm"].WriteSession.begin() as s:
        row = s.get(ApiToken, token_id)
        if row is None or (g.principal.corp_id and row.corp_id != g.principal.corp_id):
            raise ApiError(404, "not_found", f"no token {token_id}")
        revoke_token(s, token_id)
        audit(s, "token.revoke", f"token:{token_id}", name=row.name)
        return jsonify(row.public())
