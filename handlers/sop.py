"""Who is in which SOP plan (models/sop.py): enrolment on the events that trigger a plan, each step's due
time, and the end or hand-over of a customer's SOP when the follow relation ends or moves.

Called from where those things are written: the customer-added handler (`enrol_added`, one call), the
tag-added write paths (`enrol_tagged`), the relation's end (`stop_follow`: the member deleted the customer,
or the customer deleted the member) and the hand-over (`move_follow`). A customer-added plan that asks for
tags also enrols a customer whose tags arrive within ADD_WINDOW of the add: WeCom's add event carries no
tags, they come with the profile fetched just after it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handlers.moderation import calendar_for
from models import FollowRelation, FollowTag, Tag
from models.chunk import memo
from models.db import utcnow
from models.sop import RunStatus, SopEnrolment, SopPlan, SopRun, SopStep, SopTrigger
from rules.schedule import in_working_hours, step_due

ADD_WINDOW = dt.timedelta(days=1)


def _plans(session: Session, corp_id: str, *triggers: SopTrigger) -> list[SopPlan]:
    """The corp's live plans of `triggers` (once per chunk: handlers never write plans)."""
    return memo(session, ("sop_plans", corp_id, triggers), lambda: list(session.scalars(select(SopPlan).where(
        SopPlan.corp_id == corp_id, SopPlan.enabled.is_(True), SopPlan.deleted_at.is_(None),
        SopPlan.trigger.in_([t.value for t in triggers])))))


def live_steps(session: Session, plan_id: int) -> list[SopStep]:
    return list(session.scalars(select(SopStep).where(SopStep.plan_id == plan_id, SopStep.deleted_at.is_(None))
                                .order_by(SopStep.id)))


def schedule(session: Session, plan: SopPlan, enrolment: SopEnrolment, steps: Iterable[SopStep],
             not_before: dt.datetime | None = None) -> int:
    """A pending run per step, at its time in the corp's zone (moved to the next working start when the
    plan keeps to working hours); steps due before `not_before` (a step added to a running plan) are left
    out. How many were scheduled."""
    hours, zone = calendar_for(session, plan.corp_id)
    count = 0
    for step in steps:
        due = step_due(enrolment.anchor_at, zone, day=step.day, at_minute=step.at_minute,
                       hours_after=step.hours_after)
        if plan.working_hours_only:
            due = in_working_hours(due, hours, zone)
        if not_before is not None and due < not_before:
            continue
        session.add(SopRun(enrolment_id=enrolment.id, step_id=step.id, due_at=due))
        count += 1
    session.flush()
    return count


def enrol(session: Session, plan: SopPlan, customer_id: int, userid: str, anchor: dt.datetime,
          cycle: str = "") -> SopEnrolment | None:
    """Enrol the customer (followed by `userid`) in the plan from `anchor`, once per cycle; None if it was."""
    if session.scalar(select(SopEnrolment.id).where(SopEnrolment.plan_id == plan.id, SopEnrolment.customer_id ==
                                                    customer_id, SopEnrolment.cycle == cycle)) is not None:
        return None
    enrolment = SopEnrolment(plan_id=plan.id, corp_id=plan.corp_id, customer_id=customer_id, userid=userid,
                             cycle=cycle, anchor_at=anchor)
    session.add(enrolment)
    session.flush()
    schedule(session, plan, enrolment, live_steps(session, plan.id))
    return enrolment


def _tag_ids(session: Session, follow: FollowRelation) -> set[str]:
    return set(session.scalars(select(Tag.tag_id).join(FollowTag, FollowTag.tag_pk == Tag.id).where(
        FollowTag.follow_id == follow.id)))


def _added_plan_matches(plan: SopPlan, code_id: int | None, tags: set[str]) -> bool:
    if plan.channel_code_ids and code_id not in plan.channel_code_ids:
        return False
    return not plan.tag_ids or bool(tags & set(plan.tag_ids))


def enrol_added(session: Session, follow: FollowRelation, code_id: int | None, at: dt.datetime) -> None:
    """A customer added `follow.userid` (a new add or a re-add) through channel code `code_id`, if any."""
    plans = _plans(session, follow.corp_id, SopTrigger.customer_added)
    if not plans:
        return
    tags = _tag_ids(session, follow) if any(p.tag_ids for p in plans) else set()
    for plan in plans:
        if _added_plan_matches(plan, code_id, tags):
            enrol(session, plan, follow.customer_id, follow.userid, at)


def enrol_tagged(session: Session, follow: FollowRelation, added: Iterable[str], at: dt.datetime | None = None) -> None:
    """Corp tags `added` (WeCom tag ids) were put on the follow relation: tag-added plans naming one of them,
    and customer-added plans asking for tags while the add is recent."""
    added = set(added)
    if not added:
        return
    at = at or utcnow()
    for plan in _plans(session, follow.corp_id, SopTrigger.tag_added, SopTrigger.customer_added):
        if plan.trigger == SopTrigger.tag_added.value:
            if added & set(plan.tag_ids):
                enrol(session, plan, follow.customer_id, follow.userid, at)
        elif plan.tag_ids and follow.added_at is not None and at - _aware(follow.added_at) <= ADD_WINDOW \
                and _added_plan_matches(plan, follow.channel_code_id, added):
            enrol(session, plan, follow.customer_id, follow.userid, _aware(follow.added_at))


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def stop_follow(session: Session, customer_id: int, userid: str, reason: str, at: dt.datetime) -> int:
    """The relation between the customer and `userid` ended (deleted either way): their SOP stops, its steps
    not yet fired are skipped. How many enrolments stopped."""
    ids = list(session.scalars(select(SopEnrolment.id).where(
        SopEnrolment.customer_id == customer_id, SopEnrolment.userid == userid, SopEnrolment.stopped_at.is_(None))))
    if not ids:
        return 0
    session.execute(update(SopEnrolment).where(SopEnrolment.id.in_(ids)).values(stopped_at=at, stop_reason=reason)
                    .execution_options(synchronize_session=False))
    session.execute(update(SopRun).where(SopRun.enrolment_id.in_(ids), SopRun.status == RunStatus.pending.value)
                    .values(status=RunStatus.skipped.value).execution_options(synchronize_session=False))
    return len(ids)


def move_follow(session: Session, customer_id: int, handover: str, taker: str) -> None:
    """The customer was handed over: their running SOP carries on with the taker as the follower."""
    session.execute(update(SopEnrolment).where(
        SopEnrolment.customer_id == customer_id, SopEnrolment.userid == handover, SopEnrolment.stopped_at.is_(None))
        .values(userid=taker).execution_options(synchronize_session=False))
