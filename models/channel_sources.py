"""Channels (渠道, manual 9.14; 3.2's 使用渠道): where codes are used (天猫, 京东, 线下门店…). A channel groups
channel codes (员工活码) and group codes (群活码) by `channel_id` on them, and its report counts the customers
its channel codes brought and lost. The codes' own free-text `channel` label stays as it was."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (Index("ix_channels_corp_id_name", "corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(30))
    scene: Mapped[str] = mapped_column(String(30))
    """The use scene (使用场景), required: what the channel's codes are for (展会, 门店海报…)."""
    created_by: Mapped[str] = mapped_column(String(96), default="")
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
