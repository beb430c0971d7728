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
from web.api import page
from web.auth import audit, expiry, issue_token, require, revoke_token
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import Page, PageQuery
from web.schemas.tokens import NewToken, TokenIn, TokenOut
from web.scope import check_corp

bp = Blueprint("api_tokens", __name__, url_prefix="/api/v1")
errors.register(bp)


@bp.get("/tokens")
@require(Role.super_admin)
@endpoint("API tokens (never the token itself); a corp-bound token sees its corp's", query=PageQuery,
          response=Page[TokenOut])
def list_tokens(query: PageQuery) -> Any:
    rows = select(ApiToken).order_by(ApiToken.id)
    if g.principal.corp_id:
        rows = rows.where(ApiToken.corp_id == g.principal.corp_id)
    return page(rows, ApiToken.public, query)


@bp.post("/tokens")
@require(Role.super_admin)
@endpoint("Create a token; the answer shows it once (201)", body=TokenIn, response=NewToken, status=201)
def create_api_token(body: TokenIn) -> Any:
    """{name, role, userid?, corp_id?, expires_in? | expires_at?}: 201 with the token, shown this once."""
    name, role, userid, corp_id = body.name, body.role, body.userid or None, body.corp_id or None
    expires_in, expires_at = body.expires_in, body.expires_at.isoformat() if body.expires_at else None
    check_corp(corp_id)
    corp_id = corp_id or g.principal.corp_id
    try:
        until = expiry(expires_in, expires_at)
        with current_app.extensions["scrm"].WriteSession.begin() as s:
            row, value = issue_token(s, name, role, userid=userid, corp_id=corp_id, expires_at=until)
            audit(s, "token.create", f"token:{row.id}", name=row.name, role=row.role, userid=userid,
                  corp_id=row.corp_id)
            out = row.public()
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    return jsonify({**out, "token": value}), 201


@bp.post("/tokens/<id:token_id>/revoke")
@require(Role.super_admin)
@endpoint("Revoke a token: it gets 401 from now on", response=TokenOut)
def revoke_api_token(token_id: int) -> Any:
    with current_app.extensions["scrm"].WriteSession.begin() as s:
        row = s.get(ApiToken, token_id)
        if row is None or (g.principal.corp_id and row.corp_id != g.principal.corp_id):
            raise ApiError(404, "not_found", f"no token {token_id}")
        revoke_token(s, token_id)
        audit(s, "token.revoke", f"token:{token_id}", name=row.name)
        return jsonify(row.public())
