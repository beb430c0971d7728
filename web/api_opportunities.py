"""Opportunities (商机, 004 §4.10) and the corp's opportunity stages (9.9.3) over the admin API. Scope:
web/sales_scope.py; the stage rules: rules/stages.py. Every write is in the audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from handlers.smart_tags import on_write
from models import LostReason, Opportunity, OpportunityStage, Role, StageChange, StageOutcome
from models.db import utcnow
from models.settings import CorpSettings
from rules.ordering import place
from rules.stages import Stage, refusal
from web import errors
from web.api import page_rows
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import CorpQuery, Items, Page
from web.schemas.sales import (MoveBody, OpportunityBody, OpportunityDetail, OpportunityEdit, OpportunityFilters,
                               OpportunityOut, OpportunityQuery, StageBody, StageChangeBody, StageOut)
from web.sales_scope import actor, customer_rows, runtime, visible_customer, visible_row
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_opportunities", __name__, url_prefix="/api/v1")
errors.register(bp)

TERMINAL = ((StageOutcome.won, "赢单", 100), (StageOutcome.lost, "输单", 0))
TERMINAL_POSITION = 1_000_000  # after every open stage


# -- stages -------------------------------------------------------------------------------------------------
def _stage_json(st: OpportunityStage) -> dict[str, Any]:
    return {"id": st.id, "corp_id": st.corp_id, "name": st.name, "position": st.position,
            "probability": st.probability, "outcome": st.outcome}


def _stages(s: Session, corp_id: str) -> list[OpportunityStage]:
    """The corp's stages: open ones in their order, then won, then lost."""
    return list(s.scalars(select(OpportunityStage).where(OpportunityStage.corp_id == corp_id)
                          .order_by(OpportunityStage.position, OpportunityStage.id)))


@bp.get("/opportunity-stages")
@require(Role.member)
@endpoint("The corp's opportunity stages (商机阶段): open ones in order, then won and lost", query=CorpQuery,
          response=Items[StageOut])
def list_stages(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        items = [_stage_json(st) for st in _stages(s, corp_id)]
    return jsonify({"items": items, "total": len(items)})


def _place(s: Session, corp_id: str, stage: OpportunityStage, position: int | None) -> None:
    """Put an open stage at `position` among the open stages (None: last) and renumber them 0, 1, …"""
    place([st for st in _stages(s, corp_id) if st.outcome == StageOutcome.open and st.id != stage.id], stage, position)


@bp.post("/opportunity-stages")
@require(Role.admin)
@endpoint("Add an open stage (the corp's first also makes its won and lost stages)", body=StageBody,
          response=StageOut, status=201)
def create_stage(body: StageBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        if not _stages(s, corp_id):
            s.add_all([OpportunityStage(corp_id=corp_id, name=name, probability=p, outcome=outcome.value,
                                        position=TERMINAL_POSITION + n)
                       for n, (outcome, name, p) in enumerate(TERMINAL)])
        stage = OpportunityStage(corp_id=corp_id, name=body.name, probability=body.probability,
                                 outcome=StageOutcome.open.value)
        s.add(stage)
        s.flush()
        _place(s, corp_id, stage, body.position)
        audit(s, "opportunity_stage.create", f"opportunity_stage:{stage.id}", name=body.name)
        return jsonify(_stage_json(stage)), 201


@bp.patch("/opportunity-stages/<id:stage_id>")
@require(Role.admin)
@endpoint("Rename a stage, change its win probability, or move an open stage (position)", body=StageChangeBody,
          response=StageOut)
def update_stage(stage_id: int, body: StageChangeBody) -> Any:
    with runtime().WriteSession.begin() as s:
        stage = s.get(OpportunityStage, stage_id)
        if stage is None or not in_scope(stage.corp_id):
            raise ApiError(404, "not_found", f"no opportunity stage {stage_id}")
        if body.position is not None and stage.outcome != StageOutcome.open:
            raise ApiError(409, "conflict", "won and lost stay last: only an open stage moves")
        changes = body.model_dump(exclude_none=True)
        if body.name is not None:
            stage.name = body.name
        if body.probability is not None:
            stage.probability = body.probability
        if body.position is not None:
            _place(s, stage.corp_id, stage, body.position)
        audit(s, "opportunity_stage.update", f"opportunity_stage:{stage.id}", **changes)
        return jsonify(_stage_json(stage))


# -- opportunities ------------------------------------------------------------------------------------------
def _render(s: Session, rows: list[Opportunity]) -> list[dict[str, Any]]:
    """A page of opportunities with their lost reasons' names (one query for the page)."""
    reason_ids = {o.lost_reason_id for o in rows if o.lost_reason_id is not None}
    names: dict[int | None, str] = dict(s.execute(select(LostReason.id, LostReason.name).where(
        LostReason.id.in_(reason_ids))).all()) if reason_ids else {}
    return [{"id": o.id, "corp_id": o.corp_id, "customer_id": o.customer_id, "name": o.name, "stage_id": o.stage_id,
             "amount_cents": o.amount_cents, "expected_close": o.expected_close.isoformat(),
             "owner": o.owner_userid, "pinned": o.pinned, "lost_reason_id": o.lost_reason_id,
             "lost_reason": names.get(o.lost_reason_id, ""), "created_by": o.created_by,
             "created_at": o.created_at.isoformat() if o.created_at else None} for o in rows]


def _detail(s: Session, o: Opportunity) -> dict[str, Any]:
    history = s.scalars(select(StageChange).where(StageChange.opportunity_id == o.id)
                        .order_by(StageChange.at, StageChange.id))
    return _render(s, [o])[0] | {"history": [
        {"from_stage_id": h.from_stage_id, "to_stage_id": h.to_stage_id, "userid": h.userid, "actor": h.actor,
         "at": h.at.isoformat()} for h in history]}


def _opportunity(s: Session, opportunity_id: int) -> Opportunity:
    row: Opportunity = visible_row(s, Opportunity, opportunity_id, "opportunity")
    return row


def _stage_of(s: Session, corp_id: str, stage_id: int) -> OpportunityStage:
    stage = s.get(OpportunityStage, stage_id)
    if stage is None or stage.corp_id != corp_id:
        raise ApiError(422, "invalid", f"stage_id: no stage {stage_id} in this corp", {"stage_id": "unknown stage"})
    return stage


def _lost_reason(s: Session, corp_id: str, reason_id: int | None) -> int:
    """The reason a deal moved to lost names: one of the corp's list (422 naming lost_reason_id otherwise)."""
    reason = s.get(LostReason, reason_id) if reason_id is not None else None
    if reason is None or reason.corp_id != corp_id:
        why = "required: one of the corp's lost reasons (GET /lost-reasons)" if reason_id is None else \
            f"no lost reason {reason_id} in this corp"
        raise ApiError(422, "invalid", f"lost_reason_id: {why}", {"lost_reason_id": why})
    return reason.id


def _pin(s: Session, o: Opportunity) -> None:
    """One pinned opportunity per customer: pinning this one unpins the others."""
    s.execute(update(Opportunity).where(Opportunity.customer_id == o.customer_id, Opportunity.id != o.id)
              .values(pinned=False))
    o.pinned = True


def _history(s: Session, o: Opportunity, from_stage: int | None) -> None:
    s.add(StageChange(opportunity_id=o.id, from_stage_id=from_stage, to_stage_id=o.stage_id,
                      userid=g.principal.userid, actor=actor(), at=utcnow()))


@bp.get("/opportunities")
@require(Role.member)
@endpoint("Opportunities (商机) of the customers the caller may see, pinned first, then newest",
          query=OpportunityQuery, response=Page[OpportunityOut])
def list_opportunities(query: OpportunityQuery) -> Any:
    return page_rows(opportunity_rows(query), _render, query)


def opportunity_rows(filters: OpportunityFilters) -> Select:
    """The deals `filters` ask for among those this token may see, pinned first (the list, the export)."""
    rows = customer_rows(Opportunity, filters.customer_id)
    if filters.stage_id is not None:
        rows = rows.where(Opportunity.stage_id == filters.stage_id)
    if filters.owner:
        rows = rows.where(Opportunity.owner_userid == filters.owner)
    return rows.order_by(Opportunity.pinned.desc(), Opportunity.id.desc())


@bp.get("/opportunities/<id:opportunity_id>")
@require(Role.member)
@endpoint("One opportunity with its stage history (who, when)", response=OpportunityDetail)
def get_opportunity(opportunity_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_detail(s, _opportunity(s, opportunity_id)))


@bp.post("/opportunities")
@require(Role.member)
@endpoint("Create an opportunity on a customer the caller may see", body=OpportunityBody,
          response=OpportunityDetail, status=201)
def create_opportunity(body: OpportunityBody) -> Any:
    with runtime().WriteSession.begin() as s:
        customer = visible_customer(s, body.customer_id)
        stage = _stage_of(s, customer.corp_id, body.stage_id)
        owner = body.owner or g.principal.userid or customer.owner_userid
        if owner is None:
            raise ApiError(422, "invalid", "owner: required (the customer has no owner)", {"owner": "required"})
        row = Opportunity(corp_id=customer.corp_id, customer_id=customer.id, name=body.name, stage_id=stage.id,
                          amount_cents=body.amount_cents, expected_close=body.expected_close, owner_userid=owner,
                          created_by=actor())
        s.add(row)
        s.flush()
        if body.pinned:
            _pin(s, row)
        _history(s, row, None)
        audit(s, "opportunity.create", f"opportunity:{row.id}", customer_id=customer.id, stage_id=stage.id)
        on_write(s, customer.corp_id, "opportunity", [customer.id])
        s.flush()
        return jsonify(_detail(s, row)), 201


@bp.patch("/opportunities/<id:opportunity_id>")
@require(Role.member)
@endpoint("Change an opportunity's name, amount, expected close, owner or pin (a field left out stays)",
          body=OpportunityEdit, response=OpportunityDetail)
def update_opportunity(opportunity_id: int, body: OpportunityEdit) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _opportunity(s, opportunity_id)
        changes = body.model_dump(mode="json", exclude_none=True)
        for key, column in (("name", "name"), ("amount_cents", "amount_cents"),
                            ("expected_close", "expected_close"), ("owner", "owner_userid")):
            value = getattr(body, key)
            if value is not None:
                setattr(row, column, value)
        if body.pinned:
            _pin(s, row)
        elif body.pinned is False:
            row.pinned = False
        audit(s, "opportunity.update", f"opportunity:{row.id}", **changes)
        s.flush()
        return jsonify(_detail(s, row))


@bp.post("/opportunities/<id:opportunity_id>/stage")
@require(Role.member)
@endpoint("Move an opportunity to a stage (409 when the corp's stage rules refuse it; to the lost stage with a "
          "lost_reason_id from the corp's list, else 422); kept in its history",
          body=MoveBody, response=OpportunityDetail)
def move_opportunity(opportunity_id: int, body: MoveBody) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _opportunity(s, opportunity_id)
        target = _stage_of(s, row.corp_id, body.stage_id)
        flags = s.scalar(select(CorpSettings).where(CorpSettings.corp_id == row.corp_id)) or CorpSettings(
            allow_stage_skip=False, allow_reopen_lost=False)  # a corp that never changed a setting: both off
        stages = [Stage(st.id, st.outcome) for st in _stages(s, row.corp_id)]
        why = refusal(stages, row.stage_id, target.id, allow_skip=flags.allow_stage_skip,
                      allow_reopen=flags.allow_reopen_lost)
        if why:
            raise ApiError(409, "conflict", why)
        before = row.stage_id
        row.stage_id = target.id
        row.lost_reason_id = _lost_reason(s, row.corp_id, body.lost_reason_id) if target.outcome == StageOutcome.lost \
            else None
        _history(s, row, before)
        audit(s, "opportunity.stage", f"opportunity:{row.id}", from_stage_id=before, to_stage_id=target.id)
        s.flush()
        return jsonify(_detail(s, row))
