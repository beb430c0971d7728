"""Channel codes (员工活码, WeCom "联系我"): who a scan reaches, what it applies, and how it counted.

`state` is what WeCom echoes back in add_external_contact, so it identifies the code (≤30 chars,
unique per corp). A multi-staff code's WeCom member list is rewritten by the service as members reach
their daily limit or take their turn, so `members` is our intent and `config_id` the WeCom object.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base, created_at, intpk, utcnow


class CodeKind(enum.StrEnum):
    single = "single"
    multi = "multi"


class AssignMode(enum.StrEnum):
    round_robin = "round_robin"
    overflow = "overflow"


class AcceptPolicy(enum.StrEnum):
    auto = "auto"
    manual = "manual"
    auto_in_working_hours = "auto_in_working_hours"


class CodeStatus(enum.StrEnum):
    normal = "normal"
    abnormal = "abnormal"


class ChannelCode(Base):
    __tablename__ = "channel_codes"
    __table_args__ = (UniqueConstraint("corp_id", "state"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    scene: Mapped[str] = mapped_column(String(30), default="")
    channel: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(30))
    config_id: Mapped[str | None] = mapped_column(String(64))
    qr_code: Mapped[str] = mapped_column(String(512), default="")
    assign_mode: Mapped[str] = mapped_column(String(16), default=AssignMode.round_robin.value)
    daily_limit: Mapped[int | None]
    accept_policy: Mapped[str] = mapped_column(String(24), default=AcceptPolicy.auto.value)
    tag_ids: Mapped[list[Any]] = mapped_column(default=list)
    remark: Mapped[str] = mapped_column(String(30), default="")
    status: Mapped[str] = mapped_column(String(16), default=CodeStatus.normal.value)
    next_index: Mapped[int] = mapped_column(default=0)
    current_users: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(96), default="")
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    """The channel (渠道, models/channel_sources.py) the code is grouped under."""
    qr_storage_key: Mapped[str | None] = mapped_column(String(64))
    """The QR image (PNG) fetched once from `qr_code` and kept in storage/ for download."""
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list[ChannelMember]] = relationship(
        back_populates="code", order_by="ChannelMember.position", cascade="all, delete-orphan"
    )


class ChannelMember(Base):
    """A member (or backup member) of a code, in rotation order."""

    __tablename__ = "channel_members"
    __table_args__ = (UniqueConstraint("code_id", "userid", "is_backup"),)

    id: Mapped[intpk]
    code_id: Mapped[int] = mapped_column(ForeignKey("channel_codes.id"))
    userid: Mapped[str] = mapped_column(String(64))
    is_backup: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)

    code: Mapped[ChannelCode] = relationship(back_populates="members")


class ChannelDailyStat(Base):
    """Adds (and scans, as WeCom reports adds only) per code, member and corp-local day."""

    __tablename__ = "channel_daily_stats"
    __table_args__ = (
        UniqueConstraint("code_id", "day", "userid"),
        Index("ix_channel_daily_stats_day", "day"),
    )

    id: Mapped[intpk]
    code_id: Mapped[int] = mapped_column(ForeignKey("channel_codes.id"))
    day: Mapped[dt.date]
    userid: Mapped[str] = mapped_column(String(64))
    adds: Mapped[int] = mapped_column(default=0)
