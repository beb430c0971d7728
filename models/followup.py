"""Follow-up records (跟进记录) and plans with a reminder (计划/提醒), written by staff. A follow-up is
written through `record_follow_up` whichever door it comes in by (the bot's /跟进, the admin API, later the
sidebar), so the timeline and the customer's last follow-up time (read by the public-pool rules) never
disagree with the records."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.auth import record_audit
from models.customer import Customer
from models.db import Base, created_at, intpk, utcnow
from models.timeline import CustomerEvent

FOLLOW_UP_MAX_CHARS = 100  # 004 §4.1.3 跟进记录: 联系记录 text ≤ 100 (fixed, as in the manual)
DEFAULT_TYPE = "笔记"  # the first entry of every corp's list of follow-up types (9.12)


class FollowUpType(Base):
    """One entry of a corp's list of follow-up types (9.12 跟进记录设置), in `position` order."""

    __tablename__ = "follow_up_types"
    __table_args__ = (UniqueConstraint("corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]


def follow_up_types(session: Session, corp_id: str) -> list[FollowUpType]:
    """The corp's follow-up types in order; a corp that has none gets 笔记 first (in the caller's
    transaction), so a record always has a type."""
    rows = list(session.scalars(select(FollowUpType).where(FollowUpType.corp_id == corp_id)
                                .order_by(FollowUpType.position, FollowUpType.id)))
    if not rows:
        rows = [FollowUpType(corp_id=corp_id, name=DEFAULT_TYPE, position=0)]
        session.add(rows[0])
        session.flush()
    return rows


class FollowUp(Base):
    """One note a staff member recorded about a customer, at `at` (UTC). `inbox_id` names the command
    message it came from, when it came from one; `via` the door (bot, api)."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        Index("ix_follow_ups_customer_id_at", "customer_id", "at"),
        Index("ix_follow_ups_corp_id_userid_at", "corp_id", "userid", "at"),
        # the per-member counts of a period read only this index (web/api_sales_reports.py)
        Index("ix_follow_ups_corp_id_at_userid_type_id", "corp_id", "at", "userid", "type_id"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    userid: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    inbox_id: Mapped[int | None]
    via: Mapped[str] = mapped_column(String(16), default="bot")
    type_id: Mapped[int | None] = mapped_column(ForeignKey("follow_up_types.id"))  # None: from before types


def record_follow_up(session: Session, customer: Customer, userid: str, text: str, *, at: dt.datetime,
                     via: str, source: str, actor: str, inbox_id: int | None = None,
                     kind: FollowUpType | None = None) -> FollowUp:
    """Write a follow-up of type `kind` (default: the corp's first) with its timeline entry (`source` keeps
    a replayed command from repeating it), move the customer's last follow-up time forward, and audit it
    as `actor`; in the caller's transaction. The text is checked by the caller (the API's schema, the
    bot's usage message)."""
    kind = kind or follow_up_types(session, customer.corp_id)[0]
    row = FollowUp(corp_id=customer.corp_id, customer_id=customer.id, userid=userid, text=text, at=at,
                   inbox_id=inbox_id, via=via, type_id=kind.id)
    session.add(row)
    session.flush()
    session.add(CustomerEvent(customer_id=customer.id, kind="follow_up", userid=userid,
                              detail={"text": text, "type": kind.name, "follow_up_id": row.id}, source=source, at=at))
    if customer.last_followed_at is None or customer.last_followed_at < at:
        customer.last_followed_at = at
    record_audit(session, actor, "customer.follow_up", f"customer:{customer.id}", follow_up_id=row.id)
    return row


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
