"""Follow-up records (跟进记录) and plans with a reminder (计划/提醒), written by staff. A follow-up is
written through `record_follow_up` whichever door it comes in by (the bot's /跟进, the admin API, later the
sidebar), so the timeline and the customer's last follow-up time (read by the public-pool rules) never
disagree with the records.

A record is on exactly one subject (004 §4.1.3; 000 §5.3, §6.3): a customer, a lead, a company, a contact,
or a customer group. A group is named by its WeCom chat_id within the record's corp (`GroupRef`), without a
foreign key: the groups table belongs to the group module."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.auth import record_audit
from models.customer import Customer
from models.db import Base, created_at, intpk, utcnow
from models.lead import Lead
from models.orgs import Company, Contact
from models.timeline import CustomerEvent

if TYPE_CHECKING:
    from models.follow_up_links import Extras

FOLLOW_UP_MAX_CHARS = 100  # 004 §4.1.3 跟进记录: 联系记录 text ≤ 100 (fixed, as in the manual)
DEFAULT_TYPE = "笔记"  # the first entry of every corp's list of follow-up types (9.12)
# The columns that name a record's subject; exactly one is set (the CHECK below).
SUBJECT_COLUMNS = ("customer_id", "lead_id", "company_id", "contact_id", "group_chat_id")


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


@dataclass(frozen=True)
class GroupRef:
    """A customer group (客户群) as a follow-up subject: its WeCom chat_id in a corp."""

    corp_id: str
    chat_id: str


Subject = Customer | Lead | Company | Contact | GroupRef
# subject class → (its FollowUp column, its name in audit targets)
_SUBJECTS: dict[type, tuple[str, str]] = {Customer: ("customer_id", "customer"), Lead: ("lead_id", "lead"),
                                          Company: ("company_id", "company"), Contact: ("contact_id", "contact"),
                                          GroupRef: ("group_chat_id", "group")}


class FollowUp(Base):
    """One note a staff member recorded about one subject (see the module), at `at` (UTC). `inbox_id` names
    the command message it came from, when it came from one; `via` the door (bot, api, sidebar)."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        Index("ix_follow_ups_customer_id_at", "customer_id", "at"),
        Index("ix_follow_ups_lead_id_at", "lead_id", "at"),
        Index("ix_follow_ups_company_id_at", "company_id", "at"),
        Index("ix_follow_ups_contact_id_at", "contact_id", "at"),
        Index("ix_follow_ups_corp_id_group_chat_id_at", "corp_id", "group_chat_id", "at"),
        Index("ix_follow_ups_corp_id_userid_at", "corp_id", "userid", "at"),
        # the per-member counts of a period read only this index (web/api_sales_reports.py)
        Index("ix_follow_ups_corp_id_at_userid_type_id", "corp_id", "at", "userid", "type_id"),
        CheckConstraint(" + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in SUBJECT_COLUMNS) + " = 1",
                        name="one_subject"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    # the subject: a record goes with it when it is purged (models/recycle.py)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), info={"subject": True})
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), info={"subject": True})
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), info={"subject": True})
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), info={"subject": True})
    group_chat_id: Mapped[str | None] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    inbox_id: Mapped[int | None]
    via: Mapped[str] = mapped_column(String(16), default="bot")
    type_id: Mapped[int | None] = mapped_column(ForeignKey("follow_up_types.id"))  # None: from before types


def record_follow_up(session: Session, subject: Subject, userid: str, text: str, *, at: dt.datetime,
                     via: str, source: str, actor: str, inbox_id: int | None = None,
                     kind: FollowUpType | None = None, extras: Extras | None = None) -> FollowUp:
    """Write a follow-up of type `kind` (default: the corp's first) on `subject`, move the subject's last
    follow-up time forward (customers and leads keep one), give a customer's record its timeline entry
    (`source` keeps a replayed command from repeating it), and audit it as `actor`; in the caller's
    transaction. The text is checked by the caller (the API's schema, the bot's usage message). `extras`:
    its attachment and reminders (models.follow_up_links)."""
    column, noun = _SUBJECTS[type(subject)]
    key = subject.chat_id if isinstance(subject, GroupRef) else subject.id
    kind = kind or follow_up_types(session, subject.corp_id)[0]
    row = FollowUp(corp_id=subject.corp_id, userid=userid, text=text, at=at, inbox_id=inbox_id, via=via,
                   type_id=kind.id, **{column: key})
    session.add(row)
    session.flush()
    if isinstance(subject, Customer):
        session.add(CustomerEvent(customer_id=subject.id, kind="follow_up", userid=userid,
                                  detail={"text": text, "type": kind.name, "follow_up_id": row.id}, source=source,
                                  at=at))
    if isinstance(subject, Customer | Lead) and (subject.last_followed_at is None or subject.last_followed_at < at):
        subject.last_followed_at = at
    record_audit(session, actor, f"{noun}.follow_up", f"{noun}:{key}", corp_id=row.corp_id, follow_up_id=row.id)
    if extras is not None:
        extras.apply(session, row)
    return row


def _starts_with_reminder(context: Any) -> Any:
    """A plan written without a start (the bot's /计划 before plans had one, a follow-up's timed reminder)
    starts at its reminder time, so it is on the calendar that day."""
    return context.get_current_parameters().get("due_at")


class Plan(Base):
    """Something a staff member (`userid`) means to do (跟进计划, 000 §7), optionally about one customer: at
    `starts_at` (until `ends_at`, when it has an end), or all day (`all_day`: `starts_at`..`ends_at` are the
    corp-local day's midnights in UTC). `due_at` is the reminder time (None: no reminder); the reminder goes
    out through the self-built app `app_pk` (message/send), and `reminded_at` is set when it is queued.
    The scan (jobs.bot.remind_due_plans) reminds a plan once: reminded_at NULL, due_at passed, not done
    (`done_at`) and not deleted (`deleted_at`, soft). Writes go through models.plans."""

    __tablename__ = "plans"
    __table_args__ = (
        Index("ix_plans_reminder_scan", "reminded_at", "done_at", "deleted_at", "due_at"),
        Index("ix_plans_corp_id_userid_starts_at", "corp_id", "userid", "starts_at"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    userid: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))  # 000 §7: a plan may be about a
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))  # company or a contact instead
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]
    inbox_id: Mapped[int | None]
    created_at: Mapped[created_at]
    starts_at: Mapped[dt.datetime] = mapped_column(default=_starts_with_reminder)
    ends_at: Mapped[dt.datetime | None]
    all_day: Mapped[bool] = mapped_column(default=False)
    done_at: Mapped[dt.datetime | None]
    deleted_at: Mapped[dt.datetime | None]
    created_by: Mapped[str] = mapped_column(String(128), default="")
