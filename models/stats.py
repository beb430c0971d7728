"""What the statistics (004 §8 数据管理) keep beside the live tables: WeCom's own daily figures, synced once a
corp-local day (jobs/stats_sync.py), the claim of that sync, and the corp's follow-up visit rule (回访, §9.7).

WeCom's figures are kept as WeCom gives them, one row per member (or group owner) and day: 联系客户统计
(externalcontact/get_user_behavior_data, doc 92132) and 群聊数据统计 by owner (externalcontact/groupchat/
statistic, doc 92133). WeCom keeps 180 days; copied here, they outlive that and are summed by SQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.daily_claim import DailyClaim
from models.db import Base, intpk, utcnow

DEFAULT_VISIT_DAYS = (1, 3, 5, 7)
"""次日, 第3日, 第5日, 第7日回访: always counted; a corp adds at most MAX_EXTRA_VISIT_DAYS of its own."""
MAX_EXTRA_VISIT_DAYS = 2
MAX_VISIT_DAY = 90


class BehaviorDay(Base):
    """One member's 联系客户统计 of one corp-local day (`day`: WeCom's stat_time as a date)."""

    __tablename__ = "wecom_behavior_days"
    __table_args__ = (UniqueConstraint("corp_id", "day", "userid"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date]
    userid: Mapped[str] = mapped_column(String(64))
    chat_cnt: Mapped[int] = mapped_column(default=0)
    message_cnt: Mapped[int] = mapped_column(default=0)
    reply_percentage: Mapped[float | None] = mapped_column(Float)  # only when there were chats
    avg_reply_time: Mapped[int | None]  # minutes; only when there were chats
    negative_feedback_cnt: Mapped[int] = mapped_column(default=0)
    new_apply_cnt: Mapped[int] = mapped_column(default=0)
    new_contact_cnt: Mapped[int] = mapped_column(default=0)


class GroupChatDay(Base):
    """One group owner's 群聊数据统计 of one corp-local day."""

    __tablename__ = "wecom_group_chat_days"
    __table_args__ = (UniqueConstraint("corp_id", "day", "owner"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date]
    owner: Mapped[str] = mapped_column(String(64))
    new_chat_cnt: Mapped[int] = mapped_column(default=0)
    chat_total: Mapped[int] = mapped_column(default=0)
    chat_has_msg: Mapped[int] = mapped_column(default=0)
    new_member_cnt: Mapped[int] = mapped_column(default=0)
    member_total: Mapped[int] = mapped_column(default=0)
    member_has_msg: Mapped[int] = mapped_column(default=0)
    msg_total: Mapped[int] = mapped_column(default=0)
    migrate_trainee_chat_cnt: Mapped[int] = mapped_column(default=0)


class StatsSync(DailyClaim, Base):
    """The claim of one corp's sync of one local day's WeCom figures (models/daily_claim.py), with what it
    wrote and the error that stopped it."""

    __tablename__ = "stats_syncs"
    __table_args__ = (UniqueConstraint("corp_id", "day"),)

    members: Mapped[int] = mapped_column(default=0)
    owners: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(255), default="")


class VisitSettings(Base):
    """The corp's 回访设置 (§9.7): the visit days counted beyond DEFAULT_VISIT_DAYS, and whether visit days skip
    the working-hours calendar's days off (§10.2, rules/working_hours.py)."""

    __tablename__ = "visit_settings"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    extra_days: Mapped[list[Any]] = mapped_column(default=list)
    skip_non_workdays: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def days(self) -> list[int]:
        return sorted(set(DEFAULT_VISIT_DAYS) | {int(d) for d in self.extra_days or []})

