"""SOP plans (SOP 营销计划, 004 §5.2) over the admin API. A plan is on at creation; while on, its steps are
locked (an edit or removal is a 409; adding a step is allowed, and it is scheduled for the customers already
in the plan whose time for it is still ahead); it can be deleted only when off (409 otherwise). Progress is
per customer: each enrolment and each step's run. Enrolment and firing: handlers/sop.py, jobs/sop.py. Every
write is in the audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.sop import live_steps, schedule
from models import ChannelCode, Customer, CustomField, Role, Tag
from models.db import utcnow
from models.fields import FieldType
from models.sop import RunStatus, SopEnrolment, SopPlan, SopRun, SopStep
from web import errors
from web.api import page_rows
from web.api_customers import _scoped
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.automation import (ProgressOut, SopBody, SopEdit, SopOut, SopQuery, StepBody, StepOut, clock_of,
                                    minute_of)
from web.schemas.common import Deleted, Page, PageQuery
from web.scope import check_corp, corp_and_app, in_scope

bp = Blueprint("api_sop", __name__, url_prefix="/api/v1")
errors.register(bp)


def _invalid(field: str, why: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {why}", {field: why})


def _steps_json(s: Session, plan: SopPlan) -> list[dict[str, Any]]:
    steps = live_steps(s, plan.id)
    fired = dict(s.execute(select(SopRun.step_id, func.count()).where(
        SopRun.step_id.in_([st.id for st in steps]), SopRun.status == RunStatus.done.value)
        .group_by(SopRun.step_id)).all()) if steps else {}
    return [{"id": st.id, "name": st.name, "day": st.day, "at": clock_of(st.at_minute), "hours_after": st.hours_after,
             "via": st.via, "messages": st.messages, "fired": fired.get(st.id, 0), "locked": plan.enabled}
            for st in steps]


def _render(s: Session, plans: list[SopPlan]) -> list[dict[str, Any]]:
    enrolled = dict(s.execute(select(SopEnrolment.plan_id, func.count()).where(
        SopEnrolment.plan_id.in_([p.id for p in plans])).group_by(SopEnrolment.plan_id)).all()) if plans else {}
    return [{"id": p.id, "corp_id": p.corp_id, "name": p.name, "trigger": p.trigger,
             "channel_code_ids": p.channel_code_ids, "tag_ids": p.tag_ids, "date_field": p.date_field,
             "days_before": p.days_before, "working_hours_only": p.working_hours_only, "enabled": p.enabled,
             "created_by": p.created_by, "created_at": p.created_at.isoformat(), "enrolled": enrolled.get(p.id, 0),
             "steps": _steps_json(s, p)} for p in plans]


def _plan(s: Session, sop_id: int, lock: bool = False) -> SopPlan:
    query = select(SopPlan).where(SopPlan.id == sop_id, SopPlan.deleted_at.is_(None))
    plan = s.scalar(query.with_for_update() if lock else query)
    if plan is None or not in_scope(plan.corp_id):
        raise ApiError(404, "not_found", f"no SOP plan {sop_id}")
    return plan


def _check_refs(s: Session, corp_id: str, body: SopBody) -> None:
    """The codes, tags and date field the plan names are the corp's (422 naming the first that is not)."""
    codes = set(s.scalars(select(ChannelCode.id).where(ChannelCode.corp_id == corp_id,
                                                       ChannelCode.id.in_(body.channel_code_ids))))
    if missing := sorted(set(body.channel_code_ids) - codes):
        raise _invalid("channel_code_ids", f"no channel code {missing[0]} in this corp")
    tags = set(s.scalars(select(Tag.tag_id).where(Tag.corp_id == corp_id, Tag.tag_id.in_(body.tag_ids),
                                                  Tag.deleted_at.is_(None))))
    if missing_tags := sorted(set(body.tag_ids) - tags):
        raise _invalid("tag_ids", f"no tag {missing_tags[0]} in this corp")
    if body.date_field is not None and s.scalar(select(CustomField.id).where(
            CustomField.corp_id == corp_id, CustomField.key == body.date_field, CustomField.deleted_at.is_(None),
            CustomField.type == FieldType.date.value)) is None:
        raise _invalid("date_field", f"no customer date field {body.date_field!r} in this corp")


def _step(plan_id: int, body: StepBody) -> SopStep:
    return SopStep(plan_id=plan_id, name=body.name, day=body.day,
                   at_minute=minute_of(body.at) if body.at is not None else None, hours_after=body.hours_after,
                   via=body.via.value, messages=[m.model_dump(exclude_none=True, mode="json") for m in body.messages])


@bp.get("/sop-plans")
@require(Role.admin)
@endpoint("SOP plans (SOP 营销计划), newest first", query=SopQuery, response=Page[SopOut])
def list_plans(query: SopQuery) -> Any:
    check_corp(query.corp_id)
    rows = select(SopPlan).where(SopPlan.deleted_at.is_(None))
    corp_id = g.principal.corp_id or query.corp_id
    if corp_id:
        rows = rows.where(SopPlan.corp_id == corp_id)
    if query.enabled is not None:
        rows = rows.where(SopPlan.enabled.is_(query.enabled))
    return page_rows(rows.order_by(SopPlan.id.desc()), _render, query)


@bp.get("/sop-plans/<id:sop_id>")
@require(Role.admin)
@endpoint("One SOP plan with its steps, how many customers it enrolled and each step's fired count", response=SopOut)
def get_plan(sop_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_render(s, [_plan(s, sop_id)])[0])


@bp.post("/sop-plans")
@require(Role.admin)
@endpoint("Create an SOP plan (on at once): its trigger (a customer added through chosen channel codes or carrying "
          "chosen tags, a tag added, a date field N days ahead) and its steps (day N at HH:MM in the corp's time "
          "zone, or N hours after; ≤5 messages each, text ≤300)", body=SopBody, response=SopOut, status=201)
def create_plan(body: SopBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        _check_refs(s, corp_id, body)
        plan = SopPlan(corp_id=corp_id, app_pk=app_pk, name=body.name, trigger=body.trigger.value,
                       channel_code_ids=list(body.channel_code_ids), tag_ids=list(body.tag_ids),
                       date_field=body.date_field or "", days_before=body.days_before,
                       working_hours_only=body.working_hours_only, enabled=True, created_by=g.principal.actor)
        s.add(plan)
        s.flush()
        s.add_all(_step(plan.id, step) for step in body.steps)
        s.flush()
        audit(s, "sop_plan.create", f"sop_plan:{plan.id}", name=plan.name, trigger=plan.trigger)
        s.refresh(plan)
        return jsonify(_render(s, [plan])[0]), 201


@bp.patch("/sop-plans/<id:sop_id>")
@require(Role.admin)
@endpoint("Rename a plan, switch it on or off, or change whether it keeps to working hours", body=SopEdit,
          response=SopOut)
def edit_plan(sop_id: int, body: SopEdit) -> Any:
    with runtime().WriteSession.begin() as s:
        plan = _plan(s, sop_id, lock=True)
        changed = {}
        for key in ("name", "enabled", "working_hours_only"):
            value = getattr(body, key)
            if key in body.model_fields_set:
                if value is None:
                    raise _invalid(key, "cannot be null")
                setattr(plan, key, value)
                changed[key] = value
        if changed:
            audit(s, "sop_plan.update", f"sop_plan:{plan.id}", **changed)
        s.flush()
        return jsonify(_render(s, [plan])[0])


@bp.delete("/sop-plans/<id:sop_id>")
@require(Role.admin)
@endpoint("Delete a plan: only when it is off (409 while on); steps not yet fired never fire", response=Deleted)
def delete_plan(sop_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        plan = _plan(s, sop_id, lock=True)
        if plan.enabled:
            raise ApiError(409, "conflict", "the plan is on: switch it off before deleting it")
        plan.deleted_at = utcnow()
        audit(s, "sop_plan.delete", f"sop_plan:{plan.id}")
        return jsonify({"id": sop_id, "deleted": True})


@bp.post("/sop-plans/<id:sop_id>/steps")
@require(Role.admin)
@endpoint("Add a step (allowed while the plan is on): customers already in the plan get it when its time is "
          "still ahead", body=StepBody, response=StepOut, status=201)
def add_step(sop_id: int, body: StepBody) -> Any:
    with runtime().WriteSession.begin() as s:
        plan = _plan(s, sop_id, lock=True)
        step = _step(plan.id, body)
        s.add(step)
        s.flush()
        now = utcnow()
        for enrolment in s.scalars(select(SopEnrolment).where(SopEnrolment.plan_id == plan.id,
                                                              SopEnrolment.stopped_at.is_(None))):
            schedule(s, plan, enrolment, [step], not_before=now)
        audit(s, "sop_plan.add_step", f"sop_plan:{plan.id}", step_id=step.id)
        return jsonify(next(st for st in _steps_json(s, plan) if st["id"] == step.id)), 201


def _unlocked_step(s: Session, sop_id: int, step_id: int) -> tuple[SopPlan, SopStep]:
    plan = _plan(s, sop_id, lock=True)
    step = s.scalar(select(SopStep).where(SopStep.id == step_id, SopStep.plan_id == plan.id,
                                          SopStep.deleted_at.is_(None)))
    if step is None:
        raise ApiError(404, "not_found", f"no step {step_id} in SOP plan {sop_id}")
    if plan.enabled:
        raise ApiError(409, "conflict", "the plan is on: its existing steps are locked (switch it off to edit)")
    return plan, step


@bp.put("/sop-plans/<id:sop_id>/steps/<id:step_id>")
@require(Role.admin)
@endpoint("Replace a step of a plan that is off (409 while on); runs already scheduled keep their time",
          body=StepBody, response=StepOut)
def edit_step(sop_id: int, step_id: int, body: StepBody) -> Any:
    with runtime().WriteSession.begin() as s:
        plan, step = _unlocked_step(s, sop_id, step_id)
        new = _step(plan.id, body)
        for key in ("name", "day", "at_minute", "hours_after", "via", "messages"):
            setattr(step, key, getattr(new, key))
        audit(s, "sop_plan.edit_step", f"sop_plan:{plan.id}", step_id=step.id)
        s.flush()
        return jsonify(next(st for st in _steps_json(s, plan) if st["id"] == step.id))


@bp.delete("/sop-plans/<id:sop_id>/steps/<id:step_id>")
@require(Role.admin)
@endpoint("Remove a step of a plan that is off (409 while on); it never fires", response=Deleted)
def delete_step(sop_id: int, step_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        plan, step = _unlocked_step(s, sop_id, step_id)
        step.deleted_at = utcnow()
        audit(s, "sop_plan.delete_step", f"sop_plan:{plan.id}", step_id=step.id)
        return jsonify({"id": step_id, "deleted": True})


def _progress(s: Session, enrolments: list[SopEnrolment]) -> list[dict[str, Any]]:
    ids = [e.id for e in enrolments]
    runs: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for r in s.scalars(select(SopRun).where(SopRun.enrolment_id.in_(ids)).order_by(SopRun.due_at, SopRun.id)):
        runs[r.enrolment_id].append({"step_id": r.step_id, "due_at": r.due_at.isoformat(), "status": r.status,
                                     "fired_at": r.fired_at.isoformat() if r.fired_at else None,
                                     "task_id": r.task_id})
    names = dict(s.execute(select(Customer.id, Customer.name).where(
        Customer.id.in_({e.customer_id for e in enrolments}))).all()) if enrolments else {}
    return [{"enrolment_id": e.id, "customer_id": e.customer_id, "customer_name": names.get(e.customer_id, ""),
             "userid": e.userid, "cycle": e.cycle, "anchor_at": e.anchor_at.isoformat(),
             "stopped_at": e.stopped_at.isoformat() if e.stopped_at else None, "stop_reason": e.stop_reason,
             "runs": runs[e.id]} for e in enrolments]


@bp.get("/sop-plans/<id:sop_id>/progress")
@require(Role.admin)
@endpoint("Progress per customer: each enrolment (stopped when the customer left) and each step's run (pending, "
          "done with its task, skipped)", query=PageQuery, response=Page[ProgressOut])
def progress(sop_id: int, query: PageQuery) -> Any:
    with runtime().Session() as s:
        _plan(s, sop_id)
    visible = _scoped().with_only_columns(Customer.id).order_by(None)
    rows = select(SopEnrolment).where(SopEnrolment.plan_id == sop_id, SopEnrolment.customer_id.in_(visible))
    return page_rows(rows.order_by(SopEnrolment.id), _progress, query)
