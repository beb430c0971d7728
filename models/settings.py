"""Per-corp settings a sales manager changes (001 参数设置, 004 §4.5, §4.1)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, intpk, utcnow


class CorpSettings(Base):
    __tablename__ = "corp_settings"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    mask_mobile_for_members: Mapped[bool] = mapped_column(default=True)
    recycle_retention_days: Mapped[int] = mapped_column(default=30)
    notify_manager_on_loss: Mapped[bool] = mapped_column(default=False)
    # 9.9.3 商机阶段: 允许任意跨越阶段 (off: only the next stage) and 允许输单后重新启动 (off: lost is final)
    allow_stage_skip: Mapped[bool] = mapped_column(default=False)
    allow_reopen_lost: Mapped[bool] = mapped_column(default=False)
    # 004 §4.2 退群提醒: the owner of a customer group gets an app message when a customer quits it
    notify_owner_on_group_quit: Mapped[bool] = mapped_column(default=False)
    notify_manager_on_staff_delete: Mapped[bool] = mapped_column(default=False)
    """删好友预警 (manual 9.3.1): a member deleting a customer alerts their manager."""
    # 资源池 参数设置: at most this many customers held per member for a claim to pass (None: no limit)
    pool_claim_limit: Mapped[int | None]
    # 004 §5.1 企业群发: mass messages a customer receives per corp-local month at most (WeCom's corp-initiated
    # limit was 4); customers at it are left out of the next one
    mass_monthly_cap: Mapped[int] = mapped_column(default=4)
    # 004 §2.1 开通账号数量: how many members may have the system on (None: no limit, every member is on)
    seat_limit: Mapped[int | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
