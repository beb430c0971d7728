"""Issuing a task's round (models/tasks.py) and the rules around it: who is assigned (members, and the
members of the departments named, with the departments below them: models/directory.OrgChart), the
round's deadline and warning time, and when the next round of a repeating task is due. Every door (the
admin API, the tick in jobs/tasks.py, an SOP step) issues through `issue_round`, in the caller's
transaction."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.chunk import memo
from models.customer import Customer, FollowRelation, FollowStatus
from models.directory import OrgChart
from models.staff import Staff
from models.tasks import FollowUpCycle, Task, TaskAssignment, TaskKind, TaskRound
from rules.schedule import next_round


def assignees(session: Session, task: Task) -> list[str]:
    """The task's members and its departments' (and those below them), active members only, sorted."""
    chosen = set(task.userids)
    if task.dept_ids:
        chart = OrgChart.load(session, task.corp_id)
        chosen |= chart.members_of(chart.below({int(d) for d in task.dept_ids}))
    if not chosen:
        return []
    return sorted(session.scalars(select(Staff.userid).where(
        Staff.corp_id == task.corp_id, Staff.userid.in_(chosen), Staff.status != "resigned")))


def deadline(task: Task, issued_at: dt.datetime) -> dt.datetime | None:
    """执行有效时间 after the issue, else the task's end (None: no deadline)."""
    if task.valid_minutes:
        end = issued_at + dt.timedelta(minutes=task.valid_minutes)
        return min(end, task.ends_at) if task.ends_at else end
    return task.ends_at


def first_issue(task: Task, now: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """When the task's first round goes out: a once task at its start (now, if that is past); a repeating
    one at its first period on or after both its start and now (a period already past rolls to the next)."""
    if task.kind != TaskKind.repeat.value:
        return max(task.starts_at, now)
    assert task.at_minute is not None
    return next_round(task.repeat, task.repeat_day, task.at_minute, max(task.starts_at, now), zone, task.ends_at)


def following_issue(task: Task, issued_at: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """The round after the one issued at `issued_at` (None: a once task, or the repeating task's end)."""
    if task.kind != TaskKind.repeat.value or task.at_minute is None:
        return None
    return next_round(task.repeat, task.repeat_day, task.at_minute, issued_at + dt.timedelta(minutes=1), zone,
                      task.ends_at)


def issue_round(session: Session, task: Task, issued_at: dt.datetime, userids: list[str]) -> TaskRound:
    """A round issued at `issued_at` with a to-do assignment for each of `userids`."""
    end = deadline(task, issued_at)
    warn = end - dt.timedelta(minutes=task.warn_minutes) if end is not None and task.warn_minutes else None
    row = TaskRound(task_id=task.id, corp_id=task.corp_id, issued_at=issued_at, deadline_at=end, warn_at=warn)
    session.add(row)
    session.flush()
    session.add_all(TaskAssignment(round_id=row.id, task_id=task.id, userid=u) for u in userids)
    session.flush()
    return row


def start_cycles(session: Session, task: Task, start: dt.datetime, userids: list[str]) -> int:
    """A follow-up task's cycles: each active follow relation of `userids` (customers not in the recycle bin),
    first due `every_days` after `start`. How many."""
    assert task.every_days is not None
    due = start + dt.timedelta(days=task.every_days)
    pairs = session.execute(select(FollowRelation.customer_id, FollowRelation.userid).join(Customer).where(
        FollowRelation.corp_id == task.corp_id, FollowRelation.userid.in_(userids),
        FollowRelation.status == FollowStatus.active.value, Customer.deleted_at.is_(None))).all()
    session.add_all(FollowUpCycle(task_id=task.id, corp_id=task.corp_id, customer_id=customer_id, userid=userid,
                                  due_at=due) for customer_id, userid in pairs)
    session.flush()
    return len(pairs)


def cycle_added(session: Session, follow: FollowRelation, at: dt.datetime) -> int:
    """A customer added (or re-added) `follow.userid` at `at`: a cycle in each running follow-up task that
    targets that member (named, or in a department named or below one), first due `every_days` after the add
    (or after the task's start, if later). The tasks' own targets are their data scope: a member outside
    them gets nothing. A cycle the member had with the customer before (stopped when the relation ended) is
    restarted; a running one is left alone. Called once from the customer-added handler, like the SOP's
    `enrol_added`: one query per chunk of events (models/chunk.py) when the corp has no follow-up task,
    without flushing the chunk's pending rows (tasks are not written by handlers). How many cycles started."""
    tasks = memo(session, ("follow_up_tasks", follow.corp_id), lambda: list(session.scalars(select(Task).where(
        Task.corp_id == follow.corp_id, Task.kind == TaskKind.follow_up.value, Task.deleted_at.is_(None),
        Task.ended_at.is_(None)).order_by(Task.id).execution_options(autoflush=False))))
    started = 0
    for task in tasks:
        if task.ends_at is not None and task.ends_at <= at or task.every_days is None:
            continue
        if follow.userid not in task.userids and not task.dept_ids or follow.userid not in assignees(session, task):
            continue
        due = max(at, task.starts_at) + dt.timedelta(days=task.every_days)
        cycle = session.scalar(select(FollowUpCycle).where(FollowUpCycle.task_id == task.id,
                                                           FollowUpCycle.customer_id == follow.customer_id,
                                                           FollowUpCycle.userid == follow.userid))
        if cycle is None:
            session.add(FollowUpCycle(task_id=task.id, corp_id=task.corp_id, customer_id=follow.customer_id,
                                      userid=follow.userid, due_at=due))
        elif cycle.due_at is None:
            cycle.due_at = due
        else:
            continue
        started += 1
    return started
