"""Sales leads (线索, manual 004 §4.7; 002 §3.7-3.8; 003 线索转化): people who are not WeCom contacts yet.

A lead is created by hand, by an import or by a web site (models/lead_sources.py). It has no owner until it
is assigned (by hand or by a rule, models/lead_rules.py); "unassigned" is `owner_userid IS NULL`, which the
index below answers cheaply: those are the default pool's leads (`unassigned_leads`; models/pool.py), so a
lead has no pool column of its own. Assigning converts the lead:
`status` becomes `assigned` and the assignee owns it; it is linked to a customer (`customer_id`) once a
customer with the same mobile exists in the corp at assignment, or when linked by hand, and is then
`converted`. A lead is never a WeCom contact, so nothing here calls WeCom.

Tags are the corp's customer tags (models/tags.py `Tag`), kept in our own `lead_tags` rows: the same words
describe a person before and after they become a customer, but a lead has no external_userid, so WeCom's
mark_tag is never called for one. Custom fields are the corp's `lead` fields (models/fields.py), their
values kept on the row as key → value (`fields`).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Select, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class LeadStatus(enum.StrEnum):
    new = "new"
    following = "following"
    assigned = "assigned"
    converted = "converted"
    discarded = "discarded"


OPEN_LEAD_STATUSES = (LeadStatus.new.value, LeadStatus.following.value, LeadStatus.assigned.value)


class Gender(enum.StrEnum):
    unknown = ""
    male = "male"
    female = "female"


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_corp_id_owner_userid_status", "corp_id", "owner_userid", "status"),
                      UniqueConstraint("corp_id", "mobile_key"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    mobile: Mapped[str] = mapped_column(String(32), default="")
    # the mobile while there is one, else NULL: NULLs never collide, so the unique constraint refuses a second
    # lead with a mobile the corp has (against two concurrent writers too) and costs nothing without one
    mobile_key: Mapped[str | None] = mapped_column(String(32))
    gender: Mapped[str] = mapped_column(String(8), default="")
    company: Mapped[str] = mapped_column(String(128), default="")
    position: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.new.value)
    owner_userid: Mapped[str | None] = mapped_column(String(64))
    creator: Mapped[str] = mapped_column(String(96), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # no assignment rule matched at creation: waits for someone to assign it by hand (a list filter)
    needs_manual: Mapped[bool] = mapped_column(default=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    assigned_at: Mapped[dt.datetime | None]
    discarded_at: Mapped[dt.datetime | None]
    # the latest follow-up record's time (最新跟进时间, 004 §4.7's list; models/followup.py)
    last_followed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def unassigned_leads() -> Select:
    """The open leads nobody owns: the default pool's leads (公海线索, models/pool.py), which the
    admin API (web/pool_scope.py) and the bot's /线索 公海 both list."""
    return select(Lead).where(Lead.owner_userid.is_(None), Lead.status.in_(OPEN_LEAD_STATUSES))


class LeadTag(Base):
    """A lead's tag: one of the corp's customer tags (`tags.id`)."""

    __tablename__ = "lead_tags"
    __table_args__ = (UniqueConstraint("lead_id", "tag_pk"),)

    id: Mapped[intpk]
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    tag_pk: Mapped[int] = mapped_column(ForeignKey("tags.id"))


class LeadChange(Base):
    """One changed field or tag of a lead (变更记录): who, when, old → new, as text."""

    __tablename__ = "lead_changes"
    __table_args__ = (Index("ix_lead_changes_lead_id_at", "lead_id", "at"),)

    id: Mapped[intpk]
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    field: Mapped[str] = mapped_column(String(64))
    old: Mapped[str] = mapped_column(String(500), default="")
    new: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str] = mapped_column(String(96))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
