"""The SOP plans' clock (models/sop.py), run every minute by `rq cron jobs.cron` (`sop_tick`): date plans
enrol the customers whose date comes up (each plan once per corp-local day), and every step due fires once.

A step's run is claimed by a conditional UPDATE (status pending → done WHERE it is still pending), in the
same transaction that writes what the step does: a task for the follower (models/task_rounds.py) and its
app message, or an add_msg_template send. So several workers, a tick run twice or a worker killed half-way
fire it exactly once: a second claimer matches nothing (MariaDB: after the first's row lock; SQLite: writers
take turns), and a crash rolls the claim back with the rest. Before firing, the customer must still be
followed by the enrolment's member (a customer who left is skipped even if no stop hook saw it) and the plan
still on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from handlers.registry import HandlerContext
from handlers.sop import enrol
from jobs.mass_send import content_body, send_templates
from jobs.outbound import EffectContext, effect
from jobs.queue import enqueue_outbox, job
from jobs.runtime import current
from jobs.tasks import Pending, announce
from models import Customer, CustomerFieldValue, CustomField, FollowRelation, FollowStatus
from models.db import utcnow
from models.sop import RunStatus, SopDateScan, SopEnrolment, SopPlan, SopRun, SopStep, SopTrigger, StepVia
from models.task_rounds import issue_round
from models.tasks import Task, TaskKind
from rules.anniversary import month_days_on
from rules.calendar import local_midnight

BATCH = 200


def message_text(messages: list[dict[str, Any]]) -> str:
    """The step's content as one text for the task: its texts, and a line per attachment."""
    parts = []
    for m in messages:
        if m.get("type") == "text":
            parts.append(m.get("text", ""))
        else:
            parts.append(f"[{m.get('type')}] {m.get('title') or m.get('url') or m.get('media_id') or ''}".strip())
    return "\n".join(parts)


def step_content(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A step's messages as add_msg_template's content (jobs.mass_send.content_body): the first text, the rest
    as attachments."""
    texts = [m["text"] for m in messages if m.get("type") == "text"]
    attachments = []
    for m in messages:
        kind = m.get("type")
        if kind == "image":
            attachments.append({"msgtype": "image", "image": {k: m[k] for k in ("media_id", "pic_url") if m.get(k)}})
        elif kind == "link":
            attachments.append({"msgtype": "link", "link": {k: m[k] for k in ("title", "url", "picurl", "desc")
                                                            if m.get(k)}})
        elif kind == "miniprogram":
            attachments.append({"msgtype": "miniprogram", "miniprogram": {
                k: m[k] for k in ("title", "pic_media_id", "appid", "page") if m.get(k)}})
        elif kind == "video":
            attachments.append({"msgtype": "video", "video": {"media_id": m.get("media_id", "")}})
    return content_body(texts[0] if texts else "", attachments)


@effect("sop_msg_template")
def sop_msg_template(ctx: EffectContext, sender: str, external_userid: str,
                     content: dict[str, Any]) -> dict[str, Any] | None:
    """An SOP step sent through externalcontact/add_msg_template (the one sender mass messages use,
    jobs.mass_send.send_templates): the follower confirms it in WeCom."""
    call = next(send_templates(ctx.client, {sender: [external_userid]}, content))
    return ctx.finish(lambda s: {"msgid": call.msgid, "fail_list": call.fail_list, "errcode": call.errcode})


def _skip(s: Session, run_id: int) -> None:
    s.execute(update(SopRun).where(SopRun.id == run_id).values(status=RunStatus.skipped.value)
              .execution_options(synchronize_session=False))


def fire(s: Session, run_id: int, now: dt.datetime) -> Pending | None:
    """Fire run `run_id` if it is still pending (None: another worker has); the outbox rows to enqueue."""
    claimed = s.execute(update(SopRun).where(SopRun.id == run_id, SopRun.status == RunStatus.pending.value)
                        .values(status=RunStatus.done.value, fired_at=now)
                        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        return None
    run = s.get_one(SopRun, run_id)
    enrolment = s.get_one(SopEnrolment, run.enrolment_id)
    plan = s.get_one(SopPlan, enrolment.plan_id)
    step = s.get_one(SopStep, run.step_id)
    customer = s.get_one(Customer, enrolment.customer_id)
    following = s.scalar(select(FollowRelation.id).where(
        FollowRelation.customer_id == customer.id, FollowRelation.userid == enrolment.userid,
        FollowRelation.status == FollowStatus.active.value))
    if (enrolment.stopped_at is not None or not plan.enabled or plan.deleted_at is not None
            or step.deleted_at is not None or customer.deleted_at is not None or following is None):
        _skip(s, run_id)
        return []
    if step.via == StepVia.template.value:
        ctx = HandlerContext(session=s, corp_id=plan.corp_id, app_pk=plan.app_pk)
        ctx.outbox("sop_msg_template", {"app_pk": plan.app_pk, "sender": enrolment.userid,
                                        "external_userid": customer.external_userid,
                                        "content": step_content(step.messages)}, key=f"sop_run:{run_id}")
        return [(o.id, o.queue) for o in ctx.pending_outbox]
    task = Task(corp_id=plan.corp_id, kind=TaskKind.sop.value, name=step.name, customer_id=customer.id,
                content=f"SOP「{plan.name}」给客户「{customer.name or customer.external_userid}」发送：\n"
                        f"{message_text(step.messages)}", attachments=step.messages,
                userids=[enrolment.userid], starts_at=now, created_by=f"sop:{plan.id}")
    s.add(task)
    s.flush()
    run.task_id = task.id
    return announce(s, task, issue_round(s, task, now, [enrolment.userid]), [enrolment.userid])


def fire_due(now: dt.datetime | None = None) -> int:
    """Fire every step due by `now`, each in its own short transaction; how many this call fired."""
    runtime = current()
    now = now or utcnow()
    with runtime.Session() as s:
        due = list(s.scalars(select(SopRun.id).where(SopRun.status == RunStatus.pending.value, SopRun.due_at <= now)
                             .order_by(SopRun.due_at, SopRun.id).limit(BATCH)))
    fired, pending = 0, []
    for run_id in due:
        with runtime.WriteSession.begin() as s:
            outcome = fire(s, run_id, now)
        if outcome is not None:
            fired += 1
            pending += outcome
    enqueue_outbox(pending)
    return fired


def _claim_day(runtime: Any, plan_id: int, day: dt.date) -> bool:
    try:
        with runtime.WriteSession.begin() as s:
            s.add(SopDateScan(plan_id=plan_id, day=day))
        return True
    except IntegrityError:
        return False


def scan_dates(now: dt.datetime | None = None) -> int:
    """Date plans: once per plan and corp-local day, enrol the customers whose date field falls `days_before`
    days ahead (its month and day: a birthday comes every year), anchored at that local day's midnight so
    "day 0" is the scan's day. How many were enrolled."""
    runtime = current()
    now = now or utcnow()
    with runtime.Session() as s:
        plans = list(s.scalars(select(SopPlan).where(SopPlan.trigger == SopTrigger.date.value,
                                                     SopPlan.enabled.is_(True), SopPlan.deleted_at.is_(None))))
    enrolled = 0
    for plan in plans:
        with runtime.Session() as s:
            zone = corp_zone(s, plan.corp_id)
        today = now.astimezone(zone).date()
        if not _claim_day(runtime, plan.id, today):
            continue
        target = today + dt.timedelta(days=plan.days_before)
        with runtime.WriteSession.begin() as s:
            rows = s.execute(select(Customer.id, Customer.owner_userid, CustomerFieldValue.text)
                             .join(CustomerFieldValue, CustomerFieldValue.customer_id == Customer.id)
                             .join(CustomField, CustomField.id == CustomerFieldValue.field_id)
                             .where(CustomField.corp_id == plan.corp_id, CustomField.key == plan.date_field,
                                    Customer.deleted_at.is_(None), Customer.owner_userid.is_not(None),
                                    or_(*(CustomerFieldValue.text.like(f"%-{md}")
                                          for md in month_days_on(target))))).all()
            for customer_id, owner, _ in rows:
                if enrol(s, plan, customer_id, owner, local_midnight(today, zone), cycle=str(target.year)):
                    enrolled += 1
    return enrolled


@job("sop_tick", queue="maintenance")
def sop_tick() -> dict[str, int]:
    """The periodic form, every minute from `rq cron jobs.cron`."""
    return {"enrolled": scan_dates(), "fired": fire_due()}
