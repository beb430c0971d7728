"""Staff members (WeCom users) as far as the service has seen them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class Staff(Base):
    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("corp_id", "userid"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    department: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    mobile: Mapped[str] = mapped_column(String(32), default="")
    position: Mapped[str] = mapped_column(String(64), default="")
    manager_userid: Mapped[str | None] = mapped_column(String(64))
    resigned_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MemberTag(Base):
    """Address-book member tags (通讯录标签, not customer tags): who is in tag `tag_id`, a member (`userid`) or
    a whole department (`party_id`), as change_contact/update_tag events tell (doc 96304). Kept as a table,
    not on staff rows, because a tag also holds departments and a member can be in many tags."""

    __tablename__ = "member_tags"
    __table_args__ = (UniqueConstraint("corp_id", "tag_id", "userid", "party_id"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    tag_id: Mapped[int]
    userid: Mapped[str] = mapped_column(String(64), default="")
    party_id: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]
