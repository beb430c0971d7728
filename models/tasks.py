"""Tasks (任务管理, 004 §5.4.1): work handed to members or departments, once or repeating, with a deadline
after which "done" is refused, proof images, and a warning before the deadline. SOP steps (models/sop.py)
hand their follower a task of kind `sop` about one customer.

A task is issued in rounds: a once task has one, a repeating task one per period (every workday, a weekday,
a day of the month), each with its own deadline. `next_issue_at` is the next round's time; the tick
(jobs/tasks.py) claims it with a conditional UPDATE that moves it on, so a round is issued once whatever
the number of workers. Each round has an assignment per member (and per customer for SOP tasks)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow

NAME_MAX = 30
CONTENT_MAX = 300
MAX_ATTACHMENTS = 9
MAX_PROOFS = 9


class TaskKind(enum.StrEnum):
    once = "once"
    repeat = "repeat"
    sop = "sop"
    follow_up = "follow_up"  # 跟进任务: each customer of the members, every `every_days` days (FollowUpCycle)


class Repeat(enum.StrEnum):
    workday = "workday"  # Monday to Friday
    weekly = "weekly"  # `repeat_day`: 0 Monday … 6 Sunday
    monthly = "monthly"  # `repeat_day`: 1 … 31 (a short month: its last day)


class AssignmentStatus(enum.StrEnum):
    todo = "todo"
    done = "done"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_next_issue", "next_issue_at"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # once, repeat, sop, follow_up
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    content: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    proof_required: Mapped[bool] = mapped_column(default=False)
    repeat: Mapped[str] = mapped_column(String(8), default="")
    repeat_day: Mapped[int | None]
    at_minute: Mapped[int | None]  # a repeating task's issue time, minutes after corp-local midnight
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime | None]
    valid_minutes: Mapped[int | None]  # 执行有效时间: a round's deadline after its issue (else ends_at)
    warn_minutes: Mapped[int | None]  # 临期预警: minutes before the deadline
    userids: Mapped[list[Any]] = mapped_column(default=list)
    dept_ids: Mapped[list[Any]] = mapped_column(default=list)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    every_days: Mapped[int | None]
    next_issue_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]  # the last reminder by hand (web/api_task_rounds.py), once per RESEND_WAIT
    created_by: Mapped[str] = mapped_column(String(96), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None]


class TaskRound(Base):
    __tablename__ = "task_rounds"
    __table_args__ = (UniqueConstraint("task_id", "issued_at"), Index("ix_task_rounds_warn", "warned_at", "warn_at"))

    id: Mapped[intpk]
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime]
    deadline_at: Mapped[dt.datetime | None]
    warn_at: Mapped[dt.datetime | None]
    warned_at: Mapped[dt.datetime | None]


class TaskAssignment(Base):
    __tablename__ = "task_assignments"
    __table_args__ = (UniqueConstraint("round_id", "userid"), Index("ix_task_assignments_task", "task_id", "userid"))

    id: Mapped[intpk]
    round_id: Mapped[int] = mapped_column(ForeignKey("task_rounds.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    userid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), default=AssignmentStatus.todo.value)
    done_at: Mapped[dt.datetime | None]
    proofs: Mapped[list[Any]] = mapped_column(default=list)  # storage keys of the proof images


class FollowUpCycle(Base):
    """One customer of a follow-up task's member: followed up within every `every_days` days, else reminded.
    `due_at` is the end of the running cycle (None: stopped, the member no longer follows the customer). A
    follow-up record or a message with the customer restarts the cycle: the tick (jobs/tasks.py) reads the
    last contact when the cycle ends, so the contact paths pay nothing for it."""

    __tablename__ = "follow_up_cycles"
    __table_args__ = (UniqueConstraint("task_id", "customer_id", "userid"), Index("ix_follow_up_cycles_due", "due_at"))

    id: Mapped[intpk]
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    userid: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[dt.datetime | None]
    reminded: Mapped[int] = mapped_column(default=0)
    last_reminded_at: Mapped[dt.datetime | None]
