"""The corp's address book as synced from WeCom: departments, and staff statuses over time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("corp_id", "dept_id"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    dept_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(64), default="")
    parent_id: Mapped[int | None]
    order: Mapped[int] = mapped_column(default=0)
    leaders: Mapped[list[Any]] = mapped_column(default=list)
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
