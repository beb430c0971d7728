"""Sales leads (线索, manual 004 §4.7): people who are not WeCom contacts yet.

Only what the bot's `/线索` needs today, shaped for the leads issue: a lead belongs to a pool (公海) and,
once assigned, to an owner; assigned leads become customers (status `converted`).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class LeadStatus(enum.StrEnum):
    new = "new"
    following = "following"
    converted = "converted"
    discarded = "discarded"


OPEN_LEAD_STATUSES = (LeadStatus.new.value, LeadStatus.following.value)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_corp_id_owner_userid_status", "corp_id", "owner_userid", "status"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    mobile: Mapped[str] = mapped_column(String(32), default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.new.value)
    owner_userid: Mapped[str | None] = mapped_column(String(64))
    pool: Mapped[str] = mapped_column(String(64), default="default")
    # the latest follow-up record's time (最新跟进时间, 004 §4.7's list; models/followup.py)
    last_followed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
