"""Tasks (任务管理, 004 §5.4.1) over the admin API: to members or departments (and those below them), once or
repeating (every workday, a weekday, a day of the month; a period already past rolls to the next), with
content, attachments, proof images and a deadline after which "done" is refused (409). Rounds are issued
and warnings sent by the tick (jobs/tasks.py); a once task starting now is issued at once. A member sees
the tasks assigned to them (and to those whose records they act for: web/sales_scope.members_in_scope) and
marks their own done. Every write is in the audit log."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from jobs.queue import enqueue_outbox
from jobs.tasks import announce
from models import Role
from models.db import utcnow
from models.task_rounds import assignees, first_issue, following_issue, issue_round, start_cycles
from models.tasks import AssignmentStatus, FollowUpCycle, Task, TaskAssignment, TaskKind, TaskRound
from rules.group_codes import decode_image
from storage import storage
from web import errors
from web.api import page_rows
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import act_for, members_in_scope, runtime
from web.schemas.automation import DoneBody, TaskBody, TaskOut, TaskQuery, clock_of, minute_of
from web.schemas.common import Deleted, Page
from web.scope import check_corp, corp_and_app, in_scope

bp = Blueprint("api_tasks", __name__, url_prefix="/api/v1")
errors.register(bp)


def round_json(s: Session, round_: TaskRound, scope: set[str] | None) -> dict[str, Any]:
    rows = [a for a in s.scalars(select(TaskAssignment).where(TaskAssignment.round_id == round_.id)
                                 .order_by(TaskAssignment.userid)) if scope is None or a.userid in scope]
    return {"id": round_.id, "issued_at": round_.issued_at.isoformat(),
            "deadline_at": round_.deadline_at.isoformat() if round_.deadline_at else None,
            "warn_at": round_.warn_at.isoformat() if round_.warn_at else None,
            "warned_at": round_.warned_at.isoformat() if round_.warned_at else None,
            "assigned": len(rows), "done": sum(a.status == AssignmentStatus.done.value for a in rows),
            "assignments": [{"userid": a.userid, "status": a.status,
                             "done_at": a.done_at.isoformat() if a.done_at else None, "proofs": len(a.proofs)}
                            for a in rows]}


def _cycles(s: Session, task: Task) -> int | None:
    """A follow-up task's running customer cycles (None for other kinds)."""
    if task.kind != TaskKind.follow_up.value:
        return None
    return s.scalar(select(func.count()).select_from(FollowUpCycle).where(FollowUpCycle.task_id == task.id,
                                                                          FollowUpCycle.due_at.is_not(None)))


def _render(s: Session, tasks: list[Task]) -> list[dict[str, Any]]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None

    out = []
    for t in tasks:
        scope = members_in_scope(s, t.corp_id)
        rounds = s.scalar(select(func.count()).select_from(TaskRound).where(TaskRound.task_id == t.id)) or 0
        latest = s.scalar(select(TaskRound).where(TaskRound.task_id == t.id).order_by(TaskRound.issued_at.desc())
                          .limit(1))
        out.append({"id": t.id, "corp_id": t.corp_id, "kind": t.kind, "name": t.name, "content": t.content,
                    "attachments": t.attachments, "repeat": t.repeat, "repeat_day": t.repeat_day,
                    "at": clock_of(t.at_minute), "starts_at": t.starts_at.isoformat(), "ends_at": iso(t.ends_at),
                    "valid_minutes": t.valid_minutes, "warn_minutes": t.warn_minutes,
                    "proof_required": t.proof_required, "userids": t.userids, "dept_ids": t.dept_ids,
                    "customer_id": t.customer_id, "every_days": t.every_days,
                    "follow_up_customers": _cycles(s, t), "next_issue_at": iso(t.next_issue_at),
                    "ended_at": iso(t.ended_at),
                    "created_by": t.created_by, "created_at": t.created_at.isoformat(), "rounds": rounds,
                    "current": round_json(s, latest, scope) if latest else None})
    return out


def visible_task(s: Session, task_id: int, lock: bool = False) -> Task:
    """Task `task_id` if this token may see it: its corp, and for a member one assigned to someone they act
    for; else 404."""
    query = select(Task).where(Task.id == task_id, Task.deleted_at.is_(None))
    task = s.scalar(query.with_for_update() if lock else query)
    if task is None or not in_scope(task.corp_id):
        raise ApiError(404, "not_found", f"no task {task_id}")
    scope = members_in_scope(s, task.corp_id)
    if scope is not None and s.scalar(select(TaskAssignment.id).where(
            TaskAssignment.task_id == task_id, TaskAssignment.userid.in_(sorted(scope))).limit(1)) is None:
        raise ApiError(404, "not_found", f"no task {task_id}")
    return task


@bp.get("/tasks")
@require(Role.member)
@endpoint("Tasks, newest first: an admin sees the corp's, a member those assigned to them (or to members they act "
          "for)", query=TaskQuery, response=Page[TaskOut])
def list_tasks(query: TaskQuery) -> Any:
    check_corp(query.corp_id)
    rows = select(Task).where(Task.deleted_at.is_(None))
    corp_id = g.principal.corp_id or query.corp_id
    if corp_id:
        rows = rows.where(Task.corp_id == corp_id)
    if query.kind is not None:
        rows = rows.where(Task.kind == query.kind.value)
    with runtime().Session() as s:
        scope = members_in_scope(s, corp_id) if corp_id else None
    if scope is not None:
        if query.userid is not None and query.userid not in scope:
            raise ApiError(403, "forbidden", "a member sees their own tasks and those of the members they lead")
        rows = rows.where(exists().where(TaskAssignment.task_id == Task.id, TaskAssignment.userid.in_(sorted(scope))))
    if query.userid is not None:
        rows = rows.where(exists().where(TaskAssignment.task_id == Task.id, TaskAssignment.userid == query.userid))
    return page_rows(rows.order_by(Task.id.desc()), _render, query)


@bp.get("/tasks/<id:task_id>")
@require(Role.member)
@endpoint("One task with its latest round: each assignee's status, how many are done", response=TaskOut)
def get_task(task_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_render(s, [visible_task(s, task_id)])[0])


@bp.post("/tasks")
@require(Role.admin)
@endpoint("Create a task for members and departments: once (issued at starts_at, now by default), repeating at "
          "HH:MM corp time (a period already past today rolls to the next) or a follow-up task (every_days: each "
          "of their customers followed up every N days, else a reminder); each assignee gets an app message "
          "when a round is issued, and a warning warn_minutes before its deadline (their managers too)",
          body=TaskBody, response=TaskOut, status=201)
def create_task(body: TaskBody) -> Any:
    now = utcnow()
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        zone = corp_zone(s, corp_id)
        kind = TaskKind.follow_up if body.every_days else TaskKind.repeat if body.repeat else TaskKind.once
        task = Task(corp_id=corp_id, kind=kind.value, every_days=body.every_days,
                    name=body.name, content=body.content,
                    attachments=[m.model_dump(exclude_none=True, mode="json") for m in body.attachments],
                    proof_required=body.proof_required, repeat=body.repeat.value if body.repeat else "",
                    repeat_day=body.repeat_day, at_minute=minute_of(body.at) if body.at else None,
                    starts_at=body.starts_at or now, ends_at=body.ends_at, valid_minutes=body.valid_minutes,
                    warn_minutes=body.warn_minutes, userids=sorted(set(body.userids)),
                    dept_ids=sorted(set(body.dept_ids)), created_by=g.principal.actor)
        s.add(task)
        s.flush()
        if not assignees(s, task):
            raise ApiError(422, "invalid", "userids: no active member among the members and departments named",
                           {"userids": "no active member"})
        pending = []
        if kind == TaskKind.follow_up:
            start_cycles(s, task, max(task.starts_at, now), assignees(s, task))
        else:
            task.next_issue_at = first_issue(task, now, zone)
        if task.next_issue_at is not None and task.next_issue_at <= now:  # due now: issued here, not a minute later
            at, userids = task.next_issue_at, assignees(s, task)
            task.next_issue_at = following_issue(task, at, zone)
            pending = announce(s, task, issue_round(s, task, at, userids), userids)
        audit(s, "task.create", f"task:{task.id}", name=task.name, kind=task.kind)
        s.flush()
        s.refresh(task)
        answer = _render(s, [task])[0]
    enqueue_outbox(pending)
    return jsonify(answer), 201


@bp.post("/tasks/<id:task_id>/done")
@require(Role.member)
@endpoint("Mark one's assignment in the task's latest round done (我已完成), with proof images when the task asks "
          "for them; refused after the round's deadline (409) and without proof when required (422)",
          body=DoneBody, response=TaskOut)
def done(task_id: int, body: DoneBody) -> Any:
    now = utcnow()
    with runtime().WriteSession.begin() as s:
        task = visible_task(s, task_id)
        userid = act_for(s, task.corp_id, body.userid, "tasks")
        row = s.execute(select(TaskAssignment, TaskRound).join(TaskRound, TaskRound.id == TaskAssignment.round_id)
                        .where(TaskAssignment.task_id == task.id, TaskAssignment.userid == userid)
                        .order_by(TaskRound.issued_at.desc()).limit(1).with_for_update()).first()
        if row is None:
            raise ApiError(404, "not_found", f"task {task_id} has no assignment for {userid}")
        assignment, round_ = row
        if round_.deadline_at is not None and now > round_.deadline_at:
            raise ApiError(409, "deadline_passed",
                           f"the deadline ({round_.deadline_at.isoformat()}) has passed: it can no longer be done")
        if task.ended_at is not None:
            raise ApiError(409, "task_ended", "the task was ended")
        if assignment.status == AssignmentStatus.done.value:
            return jsonify(_render(s, [task])[0])
        if task.proof_required and not body.proofs:
            raise ApiError(422, "invalid", "proofs: this task needs at least one proof image", {"proofs": "required"})
        images = []
        for i, text in enumerate(body.proofs):
            try:
                images.append(decode_image(text))
            except ValueError as exc:
                raise ApiError(422, "invalid", f"proofs[{i}]: {exc}", {f"proofs.{i}": str(exc)}) from None
        store = storage(runtime())
        assignment.proofs = [store.put(io.BytesIO(data), kind) for data, kind in images]
        assignment.status, assignment.done_at = AssignmentStatus.done.value, now
        audit(s, "task.done", f"task:{task.id}", userid=userid, round_id=round_.id, proofs=len(images))
        s.flush()
        return jsonify(_render(s, [task])[0])


@bp.post("/tasks/<id:task_id>/end")
@require(Role.admin)
@endpoint("End a task by hand (手动结束): no more rounds, warnings or completions", response=TaskOut)
def end_task(task_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        task = visible_task(s, task_id, lock=True)
        if task.ended_at is None:
            task.ended_at, task.next_issue_at = utcnow(), None
            audit(s, "task.end", f"task:{task.id}")
        s.flush()
        return jsonify(_render(s, [task])[0])


@bp.delete("/tasks/<id:task_id>")
@require(Role.admin)
@endpoint("Delete a task (soft): no more rounds or warnings", response=Deleted)
def delete_task(task_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        task = visible_task(s, task_id, lock=True)
        task.deleted_at, task.next_issue_at = utcnow(), None
        audit(s, "task.delete", f"task:{task.id}")
        return jsonify({"id": task_id, "deleted": True})
