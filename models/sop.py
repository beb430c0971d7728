"""SOP plans (SOP 营销计划, 004 §5.2): a trigger that enrols customers, and steps that each, at their time,
give the follower a task with the content to send (or send it through add_msg_template).

A plan is on at creation; while on, its existing steps cannot be edited or removed (only new ones added),
and it can be deleted only when off. An enrolment is one customer in one plan (`cycle`: "" for plans
triggered by an add or a tag, the year for a date field, so a birthday plan runs again next year); each of
its steps is a `SopRun` row with its due time in UTC, fired once by the tick (jobs/sop.py) through a
conditional UPDATE of its status."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow

MAX_MESSAGES = 5
MAX_TEXT = 300
PLAN_NAME_MAX = 40
STEP_NAME_MAX = 30


class SopTrigger(enum.StrEnum):
    customer_added = "customer_added"  # through chosen channel codes, or carrying chosen tags
    tag_added = "tag_added"
    date = "date"  # a customer date field (birthday, a custom date): N days before, or on the day


class StepVia(enum.StrEnum):
    task = "task"  # a task for the follower, with the content to send
    template = "template"  # sent through externalcontact/add_msg_template (the follower confirms it)


class RunStatus(enum.StrEnum):
    pending = "pending"
    done = "done"  # fired: the task (or the template send) is written
    skipped = "skipped"  # the enrolment stopped before it was due


class SopPlan(Base):
    __tablename__ = "sop_plans"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))  # the app that calls add_msg_template
    name: Mapped[str] = mapped_column(String(PLAN_NAME_MAX))
    trigger: Mapped[str] = mapped_column(String(16))
    channel_code_ids: Mapped[list[Any]] = mapped_column(default=list)
    tag_ids: Mapped[list[Any]] = mapped_column(default=list)  # WeCom corp tag ids
    date_field: Mapped[str] = mapped_column(String(64), default="")  # a customer custom field key (type date)
    days_before: Mapped[int] = mapped_column(default=0)
    working_hours_only: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(96), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None]


class SopStep(Base):
    """When: `day` (0 = the trigger's own corp-local day) at `at_minute` (minutes after local midnight), or
    `hours_after` the trigger."""

    __tablename__ = "sop_steps"

    id: Mapped[intpk]
    plan_id: Mapped[int] = mapped_column(ForeignKey("sop_plans.id"))
    name: Mapped[str] = mapped_column(String(STEP_NAME_MAX))
    day: Mapped[int | None]
    at_minute: Mapped[int | None]
    hours_after: Mapped[int | None]
    via: Mapped[str] = mapped_column(String(8), default=StepVia.task.value)
    messages: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[created_at]
    deleted_at: Mapped[dt.datetime | None]


class SopEnrolment(Base):
    __tablename__ = "sop_enrolments"
    __table_args__ = (UniqueConstraint("plan_id", "customer_id", "cycle"),
                      Index("ix_sop_enrolments_customer", "customer_id"))

    id: Mapped[intpk]
    plan_id: Mapped[int] = mapped_column(ForeignKey("sop_plans.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    userid: Mapped[str] = mapped_column(String(64))
    cycle: Mapped[str] = mapped_column(String(8), default="")
    anchor_at: Mapped[dt.datetime]
    stopped_at: Mapped[dt.datetime | None]
    stop_reason: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[created_at]


class SopRun(Base):
    __tablename__ = "sop_runs"
    __table_args__ = (UniqueConstraint("enrolment_id", "step_id"), Index("ix_sop_runs_due", "status", "due_at"))

    id: Mapped[intpk]
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("sop_enrolments.id"))
    step_id: Mapped[int] = mapped_column(ForeignKey("sop_steps.id"))
    due_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(8), default=RunStatus.pending.value)
    fired_at: Mapped[dt.datetime | None]
    task_id: Mapped[int | None]


class SopDateScan(Base):
    """One date plan's enrolment scan of one corp-local day: the row's insert is the claim, so two workers
    never both scan the day."""

    __tablename__ = "sop_date_scans"
    __table_args__ = (UniqueConstraint("plan_id", "day"),)

    id: Mapped[intpk]
    plan_id: Mapped[int] = mapped_column(ForeignKey("sop_plans.id"))
    day: Mapped[dt.date]
    created_at: Mapped[created_at]
