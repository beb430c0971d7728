"""The corp's list of lost reasons (输单原因, 9.9.3) over the admin API: a deal moved to the lost stage names
one (web/api_opportunities.py). Admins add, rename, reorder and delete entries; a reason a deal names
cannot be deleted (409 with how many). Every write is in the audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import LostReason, Opportunity, Role
from rules.ordering import place
from web import errors
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import CorpQuery, Deleted, Items
from web.schemas.sales_reports import LostReasonBody, LostReasonChange, LostReasonOut
from web.sales_scope import runtime
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_lost_reasons", __name__, url_prefix="/api/v1")
errors.register(bp)


def _json(r: LostReason) -> dict[str, Any]:
    return {"id": r.id, "corp_id": r.corp_id, "name": r.name, "position": r.position}


def lost_reasons(s: Session, corp_id: str) -> list[LostReason]:
    return list(s.scalars(select(LostReason).where(LostReason.corp_id == corp_id)
                          .order_by(LostReason.position, LostReason.id)))


def _taken(s: Session, corp_id: str, name: str, pk: int | None) -> None:
    clash = s.scalar(select(LostReason.id).where(LostReason.corp_id == corp_id, LostReason.name == name))
    if clash is not None and clash != pk:
        raise ApiError(409, "conflict", f"the lost reason {name} exists", {"name": "taken"})


def _reason(s: Session, reason_id: int) -> LostReason:
    row = s.get(LostReason, reason_id)
    if row is None or not in_scope(row.corp_id):
        raise ApiError(404, "not_found", f"no lost reason {reason_id}")
    return row


@bp.get("/lost-reasons")
@require(Role.member)
@endpoint("The corp's lost reasons (输单原因) in order", query=CorpQuery, response=Items[LostReasonOut])
def list_lost_reasons(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        items = [_json(r) for r in lost_reasons(s, corp_id)]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/lost-reasons")
@require(Role.admin)
@endpoint("Add a lost reason (409: the name is taken)", body=LostReasonBody, response=LostReasonOut, status=201)
def create_lost_reason(body: LostReasonBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _taken(s, corp_id, body.name, None)
        row = LostReason(corp_id=corp_id, name=body.name)
        s.add(row)
        s.flush()
        place([r for r in lost_reasons(s, row.corp_id) if r.id != row.id], row, body.position)
        audit(s, "lost_reason.create", f"lost_reason:{row.id}", name=row.name)
        return jsonify(_json(row)), 201


@bp.patch("/lost-reasons/<id:reason_id>")
@require(Role.admin)
@endpoint("Rename a lost reason (the deals naming it show the new name) or move it (position)",
          body=LostReasonChange, response=LostReasonOut)
def update_lost_reason(reason_id: int, body: LostReasonChange) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _reason(s, reason_id)
        if body.name is not None:
            _taken(s, row.corp_id, body.name, row.id)
            row.name = body.name
        if body.position is not None:
            place([r for r in lost_reasons(s, row.corp_id) if r.id != row.id], row, body.position)
        audit(s, "lost_reason.update", f"lost_reason:{row.id}", **body.model_dump(exclude_none=True))
        return jsonify(_json(row))


@bp.delete("/lost-reasons/<id:reason_id>")
@require(Role.admin)
@endpoint("Delete a lost reason no deal names (409 says how many deals name it)", response=Deleted)
def delete_lost_reason(reason_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _reason(s, reason_id)
        used = s.scalar(select(func.count()).where(Opportunity.lost_reason_id == row.id)) or 0
        if used:
            raise ApiError(409, "conflict", f"the lost reason {row.name} is named by {used} opportunities")
        s.delete(row)
        audit(s, "lost_reason.delete", f"lost_reason:{reason_id}", name=row.name)
        return jsonify({"id": reason_id, "deleted": True})

