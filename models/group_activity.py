"""The corp's one group-activity rule (活跃群设置, 004 §4.2.2): global, never per group. What each number
means, and which inputs we can count without the chat archive, is in web/group_activity.py."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, intpk, utcnow

DEFAULT_WINDOW_DAYS = 7  # 最近7日
DEFAULT_ACTIVE_PERCENT = 14  # the manual's example: 活跃度比例 ≥ 14%
DEFAULT_MESSAGE_PERCENT = 0  # messages per member per day × 100; 0: no message condition (we see none)


class GroupActivityRule(Base):
    __tablename__ = "group_activity_rules"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    window_days: Mapped[int] = mapped_column(default=DEFAULT_WINDOW_DAYS)
    min_active_percent: Mapped[int] = mapped_column(default=DEFAULT_ACTIVE_PERCENT)
    min_message_percent: Mapped[int] = mapped_column(default=DEFAULT_MESSAGE_PERCENT)
    updated_by: Mapped[str] = mapped_column(String(96), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
