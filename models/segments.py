"""Customer segments (客户分组 / 人群包, 004 §5.5): saved filters over a corp's customers.

A dynamic segment is its filters, evaluated at every read (web/segment_query.py compiles them to one query).
A static one is frozen: its members are the customers the filters picked when it was made or last refreshed,
kept in `segment_members`, so a customer who later stops matching stays in it and a new match is not.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class SegmentKind(enum.StrEnum):
    dynamic = "dynamic"
    static = "static"


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8), default=SegmentKind.dynamic.value)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # web/schemas/segment_filters.py
    size: Mapped[int] = mapped_column(default=0)  # a static segment's members at its snapshot
    refreshed_at: Mapped[dt.datetime | None]  # a static segment's snapshot time
    created_by: Mapped[str] = mapped_column(String(96), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SegmentMember(Base):
    """A customer in a static segment's snapshot."""

    __tablename__ = "segment_members"
    __table_args__ = (UniqueConstraint("segment_id", "customer_id"), Index("ix_segment_members_customer_id",
                                                                           "customer_id"))

    id: Mapped[intpk]
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
