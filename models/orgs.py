"""Companies (企业, 004 §4.9; 公司, 000 part 5), their contacts (联系人, 000 part 6) and the corp's list of
industries (行业类型, 004 §9.9.1).

A company is soft-deleted (`deleted_at`): only a super_admin deletes (000 §5.6, §6.6), and the row stays for
the audit. A customer belongs to at most one company (`Customer.company_id`); a contact may name a company
and may stand for one WeCom customer (one contact per customer).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, created_at, intpk, utcnow

# 9.9.1: "系统预设字段，不可进行删改", in the manual's order.
PRESET_INDUSTRIES = ("金融", "医疗", "教育", "交通运输", "企业服务", "软件工具", "智能硬件", "消费零售", "体育", "旅游",
                     "社交", "农业", "电子商务", "生活服务", "物流仓储", "房地产", "文娱传媒")


class Industry(Base):
    """One entry of a corp's industry list: the 17 presets (`preset`, never changed) and the corp's own,
    which can be renamed but never deleted (9.9.1: "行业类型创建后仅支持进行修改")."""

    __tablename__ = "industries"
    __table_args__ = (UniqueConstraint("corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(32))
    preset: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]


def industries(session: Session, corp_id: str) -> list[Industry]:
    """The corp's industries in order; a corp that has none gets the 17 presets first (in the caller's
    transaction), so a company can always pick one."""
    rows = list(session.scalars(select(Industry).where(Industry.corp_id == corp_id)
                                .order_by(Industry.position, Industry.id)))
    if not rows:
        rows = [Industry(corp_id=corp_id, name=name, preset=True, position=n)
                for n, name in enumerate(PRESET_INDUSTRIES)]
        session.add_all(rows)
        session.flush()
    return rows


class Kept:
    """What a company and a contact both keep: their owner (负责人), who made them, and the soft delete."""

    owner_userid: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(String(96))


class Company(Kept, Base):
    """A customer company. `owner_userid` is its 负责人; `deal` the 是否成交 box (000 §5.1)."""

    __tablename__ = "companies"
    __table_args__ = (
        Index("ix_companies_corp_id_deleted_at", "corp_id", "deleted_at"),
        Index("ix_companies_corp_id_owner_userid", "corp_id", "owner_userid"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    short_name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    website: Mapped[str] = mapped_column(String(256), default="")
    province: Mapped[str] = mapped_column(String(32), default="")
    city: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(256), default="")
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("industries.id"))
    size: Mapped[str] = mapped_column(String(16), default="")
    level: Mapped[str] = mapped_column(String(32), default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    type: Mapped[str] = mapped_column(String(64), default="")
    deal: Mapped[bool] = mapped_column(default=False)


class Contact(Kept, Base):
    """A person at a company (联系人). `customer_id`, when set, is the WeCom customer this contact is (at most
    one contact per customer; a deleted contact lets go of its customer)."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("customer_id"),
        Index("ix_contacts_company_id", "company_id"),
        Index("ix_contacts_corp_id_owner_userid", "corp_id", "owner_userid"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    mobile: Mapped[str] = mapped_column(String(32), default="")
    position: Mapped[str] = mapped_column(String(64), default="")
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
