"""The public pool (公海, manual 004 §4.8, 9.9.4-9.9.5; 001 资源池): pools, the corp's return reasons, each
customer's pool moves, and the daily scan's claim.

A customer's pool state lives on its row (models/customer.py): `pool_id` is its home pool, whose recycle
rules apply while a member follows it and where it goes back; `pooled_at` set means it is in that pool now
and has no follower (`owner_userid` None); `pool_left_by` is the follower it left, kept out for the pool's
`claim_lock_days`. Only our ownership moves: the WeCom friendship (follow relations) is never touched.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.daily_claim import DailyClaim
from models.db import Base, UTCDateTime, created_at, intpk, utcnow
from models.directory import sub_departments
from models.staff import Staff

DEFAULT_POOL_NAME = "默认公海"


class PoolAction(enum.StrEnum):
    returned = "returned"  # 退回: a member gave their customer back, with a reason
    recycled = "recycled"  # 回收: the daily scan, with the rule that matched
    claimed = "claimed"  # 领取: a member took it
    assigned = "assigned"  # 分配: an admin gave it to a member
    deleted = "deleted"  # to the recycle bin (super_admin)


class Pool(Base):
    """One 公海 with the departments that see it (none: the whole corp) and its rules; a rule's N days
    None is that rule off."""

    __tablename__ = "pools"
    __table_args__ = (UniqueConstraint("corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    is_default: Mapped[bool] = mapped_column(default=False)
    departments: Mapped[list[Any]] = mapped_column(default=list)
    auto_recycle: Mapped[bool] = mapped_column(default=False)
    never_followed_days: Mapped[int | None]  # 超过N天从未跟进 (since assignment)
    not_friend_days: Mapped[int | None]  # 超过N天未加企微好友 (the follower has no active follow relation)
    idle_days: Mapped[int | None]  # 距上次跟进超过N天未再跟进
    no_deal_days: Mapped[int | None]  # 超过N天未成交
    warn_days: Mapped[int | None]  # 回收前N天提醒跟进人
    claim_lock_days: Mapped[int | None]  # 领取限制: the former follower waits N days
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PoolReturnReason(Base):
    """退回原因 (9.9.5): the corp's editable list members pick from when they return a customer."""

    __tablename__ = "pool_return_reasons"
    __table_args__ = (UniqueConstraint("corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[created_at]


class PoolMove(Base):
    """One move of a customer into or out of a pool: who it left or went to, who did it, why."""

    __tablename__ = "pool_moves"
    __table_args__ = (Index("ix_pool_moves_customer_id_at", "customer_id", "at"),
                      Index("ix_pool_moves_reason_id", "reason_id"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))
    action: Mapped[str] = mapped_column(String(16))
    userid: Mapped[str | None] = mapped_column(String(64))  # the follower it left (in) or got (out)
    by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(64), default="")
    reason_id: Mapped[int | None] = mapped_column(ForeignKey("pool_return_reasons.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PoolScan(DailyClaim, Base):
    """The claim of one corp's daily scan for one local day (models/daily_claim.py): the first worker to insert
    it scans, the others skip; a claim left unfinished for `STALE_SCAN` (a worker that died) may be taken over."""

    __tablename__ = "pool_scans"
    __table_args__ = (UniqueConstraint("corp_id", "day"),)

    moved: Mapped[int] = mapped_column(default=0)
    warned: Mapped[int] = mapped_column(default=0)


def default_pool(session: Session, corp_id: str) -> Pool:
    """The corp's default pool (unassigned leads, customers with no other home), made on first use; two
    first uses at once make one (the name is unique in the corp)."""
    found = session.scalar(select(Pool).where(Pool.corp_id == corp_id, Pool.is_default.is_(True)))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            pool = Pool(corp_id=corp_id, name=DEFAULT_POOL_NAME, is_default=True)
            session.add(pool)
    except IntegrityError:
        return session.scalars(select(Pool).where(Pool.corp_id == corp_id, Pool.is_default.is_(True))).one()
    return pool


def sees(session: Session, pool: Pool, userid: str) -> bool:
    """Is `userid` in a department the pool applies to (or the pool the whole corp's)?"""
    if not pool.departments:
        return True
    member_of = session.scalar(select(Staff.department).where(Staff.corp_id == pool.corp_id,
                                                              Staff.userid == userid)) or []
    return bool({int(d) for d in member_of} & sub_departments(session, pool.corp_id, set(pool.departments)))
