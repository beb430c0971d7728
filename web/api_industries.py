"""The corp's industries (行业类型, 004 §9.9.1) over the admin API: the manual's 17 presets are never renamed
nor deleted; a corp adds its own and may rename them, but never deletes one ("行业类型创建后仅支持进行修改"), so
no company ever names a missing industry: there is no DELETE (405). Every write is in the audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy.orm import Session

from models import Industry, Role
from models.orgs import industries
from web import errors
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.common import CorpQuery, Items
from web.schemas.orgs import IndustryBody, IndustryEdit, IndustryOut
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_industries", __name__, url_prefix="/api/v1")
errors.register(bp)


def _json(i: Industry) -> dict[str, Any]:
    return {"id": i.id, "corp_id": i.corp_id, "name": i.name, "preset": i.preset, "position": i.position}


def _industry(s: Session, industry_id: int) -> Industry:
    row = s.get(Industry, industry_id)
    if row is None or not in_scope(row.corp_id):
        raise ApiError(404, "not_found", f"no industry {industry_id}")
    return row


def _name_free(s: Session, corp_id: str, name: str) -> None:
    if any(i.name == name for i in industries(s, corp_id)):
        raise ApiError(409, "conflict", f"the industry {name} exists", {"name": "taken"})


@bp.get("/industries")
@require(Role.member)
@endpoint("The corp's industries (行业类型): the 17 presets (never changed), then the corp's own in the order they "
          "were added (renamed, never deleted)",
          query=CorpQuery, response=Items[IndustryOut])
def list_industries(query: CorpQuery) -> Any:
    with runtime().WriteSession.begin() as s:  # a corp's first look makes its presets
        corp_id, _ = corp_and_app(s, query.corp_id)
        items = [_json(i) for i in industries(s, corp_id)]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/industries")
@require(Role.admin)
@endpoint("Add an industry at the end of the corp's list (409: the name is taken)", body=IndustryBody,
          response=IndustryOut, status=201)
def create_industry(body: IndustryBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _name_free(s, corp_id, body.name)
        row = Industry(corp_id=corp_id, name=body.name, position=industries(s, corp_id)[-1].position + 1)
        s.add(row)
        s.flush()
        audit(s, "industry.create", f"industry:{row.id}", name=row.name)
        return jsonify(_json(row)), 201


@bp.patch("/industries/<id:industry_id>")
@require(Role.admin)
@endpoint("Rename one of the corp's own industries (a preset one: 409)", body=IndustryEdit, response=IndustryOut)
def rename_industry(industry_id: int, body: IndustryEdit) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _industry(s, industry_id)
        if row.preset:
            raise ApiError(409, "conflict", f"{row.name} is one of the 17 preset industries: it cannot be changed")
        if body.name != row.name:
            _name_free(s, row.corp_id, body.name)
        audit(s, "industry.update", f"industry:{row.id}", before=row.name, name=body.name)
        row.name = body.name
        return jsonify(_json(row))
