"""A task's history and reminders by hand (任务管理, 004 §5.4.1): each round of a repeating task (its period,
deadline, who is done and who is not), one round in detail, and 提醒: an app message now to the members not
done in the latest round, through the outbox (jobs/tasks.notify).

The reminder is claimed with a conditional UPDATE on `Task.reminded_at` (WHERE it is older than RESEND_WAIT),
so two admins, or two web processes, never send it twice within the wait: the second gets 429 with
Retry-After. A member sees the rounds of the tasks they see (web/api_tasks.visible_task), with the
assignments of the members they act for; reminding is an admin's write, in the audit log."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from jobs.queue import enqueue_outbox
from jobs.tasks import notify
from models import Role
from models.corp import messaging_app
from models.db import utcnow
from models.task_rounds import following_issue
from models.tasks import AssignmentStatus, Task, TaskAssignment, TaskRound
from web import errors
from web.api import page_rows
from web.api_tasks import round_json, visible_task
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError, error_body
from web.sales_scope import members_in_scope, runtime
from web.schemas.common import Page, PageQuery
from web.schemas.task_rounds import RemindOut, RoundDetailOut, RoundSummaryOut

bp = Blueprint("api_task_rounds", __name__, url_prefix="/api/v1")
errors.register(bp)

RESEND_WAIT = dt.timedelta(minutes=10)
"""A task's members are reminded by hand at most once in this time: a reminder is a message on their phone,
and WeCom drops a member's messages past 30 a minute from one app without an error."""


def _period(s: Session, task: Task, round_: TaskRound, todo: int) -> dict[str, Any]:
    zone = corp_zone(s, task.corp_id)
    end = following_issue(task, round_.issued_at, zone)
    return {"task_id": task.id, "day": round_.issued_at.astimezone(zone).date().isoformat(),
            "period_end": end.isoformat() if end else None, "not_done": todo}


def _summaries(task: Task, scope: set[str] | None) -> Any:
    def render(s: Session, rounds: list[TaskRound]) -> list[dict[str, Any]]:
        rows = s.execute(select(TaskAssignment.round_id, TaskAssignment.userid, TaskAssignment.status).where(
            TaskAssignment.round_id.in_([r.id for r in rounds])).order_by(TaskAssignment.userid)).all()
        out = []
        for r in rounds:
            mine = [(u, st) for rid, u, st in rows if rid == r.id and (scope is None or u in scope)]
            done = [u for u, st in mine if st == AssignmentStatus.done.value]
            todo = [u for u, st in mine if st != AssignmentStatus.done.value]
            out.append({"id": r.id, "issued_at": r.issued_at.isoformat(),
                        "deadline_at": r.deadline_at.isoformat() if r.deadline_at else None,
                        "assigned": len(mine), "done": len(done), "done_userids": done, "todo_userids": todo,
                        **_period(s, task, r, len(todo))})
        return out
    return render


@bp.get("/tasks/<id:task_id>/rounds")
@require(Role.member)
@endpoint("A task's rounds, newest first (a repeating task's history, one per period): the period, the deadline, "
          "how many are done and not done, and who", query=PageQuery, response=Page[RoundSummaryOut])
def list_rounds(task_id: int, query: PageQuery) -> Any:
    with runtime().Session() as s:
        task = visible_task(s, task_id)
        scope = members_in_scope(s, task.corp_id)
    rows = select(TaskRound).where(TaskRound.task_id == task_id).order_by(TaskRound.issued_at.desc(),
                                                                         TaskRound.id.desc())
    return page_rows(rows, _summaries(task, scope), query)


@bp.get("/tasks/<id:task_id>/rounds/<id:round_id>")
@require(Role.member)
@endpoint("One round of a task: its period and deadline, each assignee's status, done time and proof count",
          response=RoundDetailOut)
def get_round(task_id: int, round_id: int) -> Any:
    with runtime().Session() as s:
        task = visible_task(s, task_id)
        round_ = s.scalar(select(TaskRound).where(TaskRound.id == round_id, TaskRound.task_id == task.id))
        if round_ is None:
            raise ApiError(404, "not_found", f"task {task_id} has no round {round_id}")
        detail = round_json(s, round_, members_in_scope(s, task.corp_id))
        return jsonify({**detail, **_period(s, task, round_, detail["assigned"] - detail["done"])})


def _todo(s: Session, task: Task, now: dt.datetime) -> tuple[TaskRound, list[str]]:
    """The latest round and its members not done (those this token acts for); 409 when there is nothing to
    remind of."""
    if task.ended_at is not None:
        raise ApiError(409, "task_ended", "the task was ended: nothing to remind of")
    round_ = s.scalar(select(TaskRound).where(TaskRound.task_id == task.id)
                      .order_by(TaskRound.issued_at.desc(), TaskRound.id.desc()).limit(1))
    if round_ is None:
        raise ApiError(409, "no_round", "no round of this task has been issued yet")
    if round_.deadline_at is not None and now > round_.deadline_at:
        raise ApiError(409, "deadline_passed", f"the latest round's deadline ({round_.deadline_at.isoformat()}) "
                                               "has passed: it can no longer be done")
    scope = members_in_scope(s, task.corp_id)
    todo = [u for u in s.scalars(select(TaskAssignment.userid).where(
        TaskAssignment.round_id == round_.id, TaskAssignment.status == AssignmentStatus.todo.value)
        .order_by(TaskAssignment.userid)) if scope is None or u in scope]
    if not todo:
        raise ApiError(409, "all_done", "every member of the latest round is done")
    if messaging_app(s, task.corp_id) is None:
        raise ApiError(409, "no_app", "the corp has no app with an agent id to send the reminder through")
    return round_, todo


@bp.post("/tasks/<id:task_id>/remind")
@require(Role.admin)
@endpoint("Remind the members not done in the task's latest round now (an app message); at most once every 10 "
          "minutes per task (429 with Retry-After), 409 when the task ended, its deadline passed or all are done",
          response=RemindOut)
def remind(task_id: int) -> Any:
    now = utcnow().replace(microsecond=0)
    with runtime().WriteSession.begin() as s:
        task = visible_task(s, task_id)
        round_, todo = _todo(s, task, now)
        claimed = s.execute(update(Task).where(Task.id == task.id, or_(
            Task.reminded_at.is_(None), Task.reminded_at <= now - RESEND_WAIT)).values(reminded_at=now)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # reminded within the wait: nothing written
            last = s.scalar(select(Task.reminded_at).where(Task.id == task.id)) or now
            wait = max(1, math.ceil((last + RESEND_WAIT - now).total_seconds()))
            return jsonify(error_body("too_many_requests", f"this task was reminded at {last.isoformat()}: "
                                      f"again in {wait} s")), 429, {"Retry-After": str(wait)}
        zone = corp_zone(s, task.corp_id)
        deadline = f"，截止{round_.deadline_at.astimezone(zone):%m月%d日 %H:%M}" if round_.deadline_at else ""
        # the time in the text: WeCom's duplicate check (30 min) would drop the same text sent 10 minutes ago
        pending = notify(s, task.corp_id, todo, f"任务提醒（{now.astimezone(zone):%H:%M}）：「{task.name}」尚未完成"
                                                f"{deadline}，请尽快完成。",
                         f"task_remind:{round_.id}:{now:%Y%m%d%H%M%S}")
        audit(s, "task.remind", f"task:{task.id}", corp_id=task.corp_id, round_id=round_.id, userids=todo)
    enqueue_outbox(pending)
    return jsonify({"task_id": task_id, "round_id": round_.id, "reminded": todo,
                    "next_remind_at": (now + RESEND_WAIT).isoformat()})
