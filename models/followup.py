"""Follow-up records (跟进记录) and plans with a reminder (计划/提醒), written by staff (bot commands first;
the sidebar and the admin API later)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class FollowUp(Base):
    """One note a staff member recorded about a customer, at `at` (UTC). `inbox_id` names the command
    message it came from, when it came from one."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        Index("ix_follow_ups_customer_id_at", "customer_id", "at"),
        Index("ix_follow_ups_corp_id_userid_at", "corp_id", "userid", "at"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    userid: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    inbox_id: Mapped[int | None]


class Plan(Base):
    """Something a staff member means to do at `due_at` (UTC), optionally about one customer. The reminder
    goes out through the self-built app `app_pk` (message/send); `reminded_at` is set when it is queued, so
    the periodic scan never queues it twice."""

    __tablename__ = "plans"
    __table_args__ = (
        Index("ix_plans_reminded_at_due_at", "reminded_at", "due_at"),
        Index("ix_plans_corp_id_userid_due_at", "corp_id", "userid", "due_at"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    userid: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[dt.datetime]
    reminded_at: Mapped[dt.datetime | None]
    inbox_id: Mapped[int | None]
    created_at: Mapped[created_at]
