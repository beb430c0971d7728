"""The tasks' clock (models/tasks.py), run every minute by `rq cron jobs.cron` (`tasks_tick`): rounds due are
issued, warnings due are sent and follow-up tasks' cycles that ended are closed, each exactly once whatever
the number of workers and restarts.

A round is claimed by moving the task's `next_issue_at` on with a conditional UPDATE (WHERE it still holds
the time the tick read), in the transaction that writes the round, its assignments and the app message; a
warning by setting the round's `warned_at` WHERE it is still NULL. On MariaDB a second claimer waits for
the first's row lock and then matches nothing; on SQLite writers take turns. A crash before the commit
leaves the row as it was, so the next tick does it. Messages go out through the outbox (effect
`notify_admins`: message/send within each member's budget)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox, job
from jobs.runtime import current
from models import Customer, FollowRelation, FollowStatus, Message, Staff
from models.corp import messaging_app
from models.db import utcnow
from models.directory import OrgChart
from models.task_rounds import assignees, following_issue, issue_round
from models.tasks import AssignmentStatus, FollowUpCycle, Task, TaskAssignment, TaskRound

BATCH = 200
TEXT_MAX = 600

Pending = list[tuple[int, str]]


def notify(s: Session, corp_id: str, userids: Iterable[str], text: str, key: str) -> Pending:
    """An app message to `userids` through the corp's messaging app, once per `key`; the outbox rows to
    enqueue after commit (none when the corp has no app that can send)."""
    userids = sorted(set(userids))
    app = messaging_app(s, corp_id)
    if app is None or not userids:
        return []
    ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app[0])
    ctx.outbox("notify_admins", {"app_pk": app[0], "agent_id": app[1], "userids": userids,
                                 "text": text[:TEXT_MAX]}, key=key)
    return [(o.id, o.queue) for o in ctx.pending_outbox]


def _issued_text(task: Task, end: dt.datetime | None, s: Session) -> str:
    when = f"，请在{end.astimezone(corp_zone(s, task.corp_id)):%m月%d日 %H:%M}前完成" if end else ""
    return f"新任务「{task.name}」{when}：{task.content}"


def announce(s: Session, task: Task, round_: TaskRound, userids: list[str]) -> Pending:
    return notify(s, task.corp_id, userids, _issued_text(task, round_.deadline_at, s), f"task_round:{round_.id}")


def issue_due(now: dt.datetime | None = None) -> int:
    """Issue every round due by `now`; how many."""
    runtime = current()
    now = now or utcnow()
    with runtime.Session() as s:
        due = s.execute(select(Task.id, Task.next_issue_at).where(
            Task.next_issue_at <= now, Task.deleted_at.is_(None), Task.ended_at.is_(None))
            .order_by(Task.next_issue_at).limit(BATCH)).all()
    issued, pending = 0, []
    for task_id, at in due:
        with runtime.WriteSession.begin() as s:
            task = s.get_one(Task, task_id)
            following = following_issue(task, at, corp_zone(s, task.corp_id))
            claimed = s.execute(update(Task).where(Task.id == task_id, Task.next_issue_at == at)
                                .values(next_issue_at=following).execution_options(synchronize_session=False))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]  # another worker issued it
                continue
            userids = assignees(s, task)
            round_ = issue_round(s, task, at, userids)
            pending += announce(s, task, round_, userids)
            issued += 1
    enqueue_outbox(pending)
    return issued


def _managers(s: Session, corp_id: str, userids: set[str]) -> set[str]:
    """Each member's manager (Staff.manager_userid) and the leaders of their departments (部门负责人)."""
    chart = OrgChart.load(s, corp_id)
    found = {m for m in s.scalars(select(Staff.manager_userid).where(
        Staff.corp_id == corp_id, Staff.userid.in_(userids))) if m}
    for userid in userids:
        for dept in chart.staff.get(userid, set()):
            found |= set(chart.leaders.get(dept, []))
    return found - userids


def warn_due(now: dt.datetime | None = None) -> int:
    """临期预警: for every round whose warning time has come, once: the members not done are reminded, and
    their managers get the list of who is not done. How many rounds were warned."""
    runtime = current()
    now = now or utcnow()
    with runtime.Session() as s:
        due = list(s.scalars(select(TaskRound.id).where(TaskRound.warned_at.is_(None), TaskRound.warn_at <= now)
                             .order_by(TaskRound.warn_at).limit(BATCH)))
    warned, pending = 0, []
    for round_id in due:
        with runtime.WriteSession.begin() as s:
            claimed = s.execute(update(TaskRound).where(TaskRound.id == round_id, TaskRound.warned_at.is_(None))
                                .values(warned_at=now).execution_options(synchronize_session=False))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            round_ = s.get_one(TaskRound, round_id)
            task = s.get_one(Task, round_.task_id)
            if task.deleted_at is not None or task.ended_at is not None or round_.deadline_at is None:
                continue
            late = set(s.scalars(select(TaskAssignment.userid).where(
                TaskAssignment.round_id == round_id, TaskAssignment.status == AssignmentStatus.todo.value)))
            if late:
                end = f"{round_.deadline_at.astimezone(corp_zone(s, task.corp_id)):%m月%d日 %H:%M}"
                pending += notify(s, task.corp_id, late, f"任务临期提醒：「{task.name}」将于{end}截止，请尽快完成。",
                                  f"task_warn:{round_id}:members")
                names = dict(s.execute(select(Staff.userid, Staff.name).where(
                    Staff.corp_id == task.corp_id, Staff.userid.in_(late))).all())
                listed = "、".join(names.get(u) or u for u in sorted(late))
                pending += notify(s, task.corp_id, _managers(s, task.corp_id, late),
                                  f"任务临期提醒：「{task.name}」将于{end}截止，未完成：{listed}",
                                  f"task_warn:{round_id}:managers")
            warned += 1
    enqueue_outbox(pending)
    return warned


def last_contact(s: Session, customer: Customer) -> dt.datetime | None:
    """The customer's last follow-up record (Customer.last_followed_at, kept by models.followup) or message."""
    chat = s.scalar(select(func.max(Message.send_time)).where(Message.corp_id == customer.corp_id,
                                                              Message.external_userid == customer.external_userid))
    times = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in (customer.last_followed_at, chat) if t]
    return max(times) if times else None


def _end_cycle(s: Session, cycle: FollowUpCycle, task: Task, now: dt.datetime) -> Pending | None:
    """Close the cycle that ended at `cycle.due_at`, claimed by moving due_at on (None: another worker did).
    A contact within it restarts the cycle from the contact; none reminds the member and starts the next."""
    due = cycle.due_at
    assert due is not None and task.every_days is not None
    every = dt.timedelta(days=task.every_days)
    customer = s.get_one(Customer, cycle.customer_id)
    follows = s.scalar(select(FollowRelation.id).where(
        FollowRelation.customer_id == customer.id, FollowRelation.userid == cycle.userid,
        FollowRelation.status == FollowStatus.active.value))
    contact = last_contact(s, customer)
    stopped = follows is None or customer.deleted_at is not None
    restart = contact if contact is not None and contact > due - every else None  # a contact within the cycle
    contacted = restart is not None
    following = None if stopped else (restart or due) + every
    values: dict[str, object] = {"due_at": following}
    if not stopped and not contacted:
        values.update(reminded=FollowUpCycle.reminded + 1, last_reminded_at=now)
    claimed = s.execute(update(FollowUpCycle).where(FollowUpCycle.id == cycle.id, FollowUpCycle.due_at == due)
                        .values(**values).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    if stopped or contacted:
        return []
    who = customer.name or customer.external_userid
    text = f"跟进任务「{task.name}」：客户「{who}」已{task.every_days}天未跟进，请及时跟进。"
    return notify(s, task.corp_id, [cycle.userid], text, f"follow_up_cycle:{cycle.id}:{due:%Y%m%d%H%M%S}")


def cycles_due(now: dt.datetime | None = None) -> int:
    """End every follow-up cycle due by `now` (tasks running: not ended, deleted or past their end); how many."""
    runtime = current()
    now = now or utcnow()
    with runtime.Session() as s:
        due = list(s.scalars(select(FollowUpCycle.id).join(Task, Task.id == FollowUpCycle.task_id).where(
            FollowUpCycle.due_at <= now, Task.deleted_at.is_(None), Task.ended_at.is_(None),
            (Task.ends_at.is_(None)) | (Task.ends_at > now)).order_by(FollowUpCycle.due_at).limit(BATCH)))
    ended, pending = 0, []
    for cycle_id in due:
        with runtime.WriteSession.begin() as s:
            cycle = s.get_one(FollowUpCycle, cycle_id)
            if cycle.due_at is None or cycle.due_at > now:
                continue
            outcome = _end_cycle(s, cycle, s.get_one(Task, cycle.task_id), now)
        if outcome is not None:
            ended += 1
            pending += outcome
    enqueue_outbox(pending)
    return ended


@job("tasks_tick", queue="maintenance")
def tasks_tick() -> dict[str, int]:
    """The periodic form, every minute from `rq cron jobs.cron`."""
    return {"issued": issue_due(), "warned": warn_due(), "follow_up_cycles": cycles_due()}
