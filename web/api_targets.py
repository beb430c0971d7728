"""Sales targets (销售目标, 003 目标完成分析) per member and per department, for a month, quarter or year, with
their completion: the amount of the deals won in the period ÷ the target. Admins write them (audited);
a member reads the targets within their reach (web/sales_members.py): their own, and those of the
departments they lead and those departments' members."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from models import Opportunity, OpportunityStage, Role, SalesTarget, StageChange, Staff, TargetPeriod
from rules.periods import period_days, period_start, utc_bounds
from web import errors
from web.api import page_rows
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import Deleted, Page
from web.schemas.sales_reports import TargetBody, TargetChange, TargetOut, TargetQuery
from web.sales_members import Directory, reach
from web.sales_periods import in_calendar
from web.sales_scope import actor, runtime
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_targets", __name__, url_prefix="/api/v1")
errors.register(bp)


def _visible(s: Session, corp_id: str) -> Select:
    """The corp's targets the caller may read."""
    rows = select(SalesTarget).where(SalesTarget.corp_id == corp_id)
    seen = reach(Directory.load(s, corp_id))
    if seen.userids is not None:
        rows = rows.where(or_(SalesTarget.userid.in_(sorted(seen.userids)),
                              SalesTarget.dept_id.in_(sorted(seen.depts or ())) if seen.depts else false()))
    return rows


def _won_cents(s: Session, targets: list[SalesTarget]) -> dict[int, int]:
    """Each target's won amount, in a fixed number of queries whatever the number of targets: the won moves
    of the targets' corp over the span of all their periods are read once and shared out."""
    if not targets:
        return {}
    corp_id = targets[0].corp_id
    zone = corp_zone(s, corp_id)
    spans = {t.id: utc_bounds(*period_days(t.period, t.start), zone) for t in targets}
    directory = Directory.load(s, corp_id) if any(t.dept_id is not None for t in targets) else None
    owners = {t.id: {t.userid} if t.userid is not None else _dept_members(directory, t.dept_id) for t in targets}
    won = select(OpportunityStage.id).where(OpportunityStage.corp_id == corp_id, OpportunityStage.outcome == "won")
    moves = s.execute(select(StageChange.at, Opportunity.owner_userid, Opportunity.amount_cents)
                      .join(Opportunity, Opportunity.id == StageChange.opportunity_id)
                      .where(StageChange.to_stage_id.in_(won), Opportunity.corp_id == corp_id,
                             StageChange.at >= min(a for a, _ in spans.values()),
                             StageChange.at < max(b for _, b in spans.values()),
                             Opportunity.owner_userid.in_(sorted(set().union(*owners.values()))))).all()
    totals: dict[int, int] = defaultdict(int)
    for at, owner, amount in moves:
        for pk, (start, end) in spans.items():
            if start <= at < end and owner in owners[pk]:
                totals[pk] += amount
    return totals


def _dept_members(directory: Directory | None, dept_id: int | None) -> set[str]:
    """The members of a target's department and its sub-departments (none once the department is gone)."""
    if directory is None or dept_id is None or dept_id not in directory.leaders:
        return set()
    return directory.members_of(directory.subtree(dept_id))


def _render(s: Session, rows: list[SalesTarget]) -> list[dict[str, Any]]:
    won = _won_cents(s, rows)
    return [{"id": t.id, "corp_id": t.corp_id, "userid": t.userid, "department": t.dept_id, "period": t.period,
             "start": t.start.isoformat(), "end": period_days(t.period, t.start)[1].isoformat(),
             "amount_cents": t.amount_cents, "won_cents": won.get(t.id, 0),
             "completion": round(won.get(t.id, 0) / t.amount_cents, 4) if t.amount_cents else None} for t in rows]


def _target(s: Session, target_id: int, write: bool = False) -> SalesTarget:
    row = s.get(SalesTarget, target_id)
    if row is None or not in_scope(row.corp_id) or (
            not write and s.scalar(_visible(s, row.corp_id).where(SalesTarget.id == row.id)) is None):
        raise ApiError(404, "not_found", f"no sales target {target_id}")
    return row


@bp.get("/targets")
@require(Role.member)
@endpoint("Sales targets with completion (won amount in the period ÷ target), newest period first",
          query=TargetQuery, response=Page[TargetOut])
def list_targets(query: TargetQuery) -> Any:
    """Completion: the deals moved to won in the target's period (the corp's local days), owned by the member,
    or by a member of the department or of one of its sub-departments (each deal once), at their current
    amounts, ÷ the target. A member lists their own targets and those of the departments they lead and of
    those departments' members."""
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        rows = _visible(s, corp_id)
    if query.userid is not None:
        rows = rows.where(SalesTarget.userid == query.userid)
    if query.department is not None:
        rows = rows.where(SalesTarget.dept_id == query.department)
    if query.period is not None:
        rows = rows.where(SalesTarget.period == query.period)
    if query.date is not None:  # the periods holding that day: one start per kind
        rows = rows.where(or_(*(and_(SalesTarget.period == kind.value,
                                     SalesTarget.start == period_start(kind, query.date)) for kind in TargetPeriod)))
    return page_rows(rows.order_by(SalesTarget.start.desc(), SalesTarget.id), _render, query)


@bp.get("/targets/<id:target_id>")
@require(Role.member)
@endpoint("One sales target with its completion", response=TargetOut)
def get_target(target_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_render(s, [_target(s, target_id)])[0])


@bp.post("/targets")
@require(Role.admin)
@endpoint("Set a member's or a department's target for a month, quarter or year (409: it has one already)",
          body=TargetBody, response=TargetOut, status=201)
def create_target(body: TargetBody) -> Any:
    if (body.userid is None) == (body.department is None):
        raise ApiError(422, "invalid", "userid: give userid or department, one of them",
                       {"userid": "give userid or department, one of them"})
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        if body.department is not None:
            Directory.load(s, corp_id).subtree(body.department)
        elif s.scalar(select(Staff.id).where(Staff.corp_id == corp_id, Staff.userid == body.userid)) is None:
            raise ApiError(404, "not_found", f"no member {body.userid} in this corp")
        start = in_calendar(body.period, body.date, lambda message: ApiError(
            422, "invalid", f"date: {message}", {"date": message}))[0]
        same = s.scalar(select(SalesTarget.id).where(
            SalesTarget.corp_id == corp_id, SalesTarget.period == body.period, SalesTarget.start == start,
            SalesTarget.userid == body.userid if body.userid is not None else SalesTarget.dept_id == body.department))
        if same is not None:
            raise ApiError(409, "conflict", f"that target exists: sales target {same}")
        row = SalesTarget(corp_id=corp_id, userid=body.userid, dept_id=body.department, period=body.period.value,
                          start=start, amount_cents=body.amount_cents, created_by=actor())
        s.add(row)
        s.flush()
        audit(s, "sales_target.create", f"sales_target:{row.id}", userid=row.userid, department=row.dept_id,
              period=row.period, start=start.isoformat(), amount_cents=row.amount_cents)
        return jsonify(_render(s, [row])[0]), 201


@bp.patch("/targets/<id:target_id>")
@require(Role.admin)
@endpoint("Change a target's amount", body=TargetChange, response=TargetOut)
def update_target(target_id: int, body: TargetChange) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _target(s, target_id, write=True)
        row.amount_cents = body.amount_cents
        audit(s, "sales_target.update", f"sales_target:{row.id}", amount_cents=body.amount_cents)
        return jsonify(_render(s, [row])[0])


@bp.delete("/targets/<id:target_id>")
@require(Role.admin)
@endpoint("Delete a target", response=Deleted)
def delete_target(target_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _target(s, target_id, write=True)
        s.delete(row)
        audit(s, "sales_target.delete", f"sales_target:{target_id}", userid=row.userid, department=row.dept_id,
              period=row.period, start=row.start.isoformat())
        return jsonify({"id": target_id, "deleted": True})

