"""Customers (external contacts) and the follow relations that tie them to staff members, and the one rule
of which customers a set of members holds (`followed_or_owned_by`)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, String, Text, UniqueConstraint, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base, created_at, intpk, utcnow


class FollowStatus(enum.StrEnum):
    active = "active"
    deleted_by_staff = "deleted_by_staff"
    deleted_by_customer = "deleted_by_customer"


class Customer(Base):
    """One WeCom external contact of a corp. `owner_userid` is the single 跟进人, the first adder."""

    __tablename__ = "customers"
    # deleted_at: the lists skip the recycle bin and the purge job scans it by age.
    __table_args__ = (UniqueConstraint("corp_id", "external_userid"), Index("ix_customers_deleted_at", "deleted_at"),
                      Index("ix_customers_company_id", "company_id"),
                      # the pool scan's keyset walk (jobs/pool_scan.py) and the claim limit's count
                      Index("ix_customers_pool_scan", "pool_id", "pooled_at", "id"),
                      Index("ix_customers_corp_id_owner_userid", "corp_id", "owner_userid"),
                      # segments' last follow-up range
                      Index("ix_customers_corp_id_last_followed_at", "corp_id", "last_followed_at"),
                      # a segment's live customers of the corp, read from this index alone (web/segment_query.py)
                      Index("ix_customers_corp_id_deleted_at", "corp_id", "deleted_at"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    avatar: Mapped[str] = mapped_column(String(512), default="")
    type: Mapped[int | None]
    gender: Mapped[int | None]
    unionid: Mapped[str | None] = mapped_column(String(64))
    corp_name: Mapped[str] = mapped_column(String(128), default="")
    position: Mapped[str] = mapped_column(String(128), default="")
    owner_userid: Mapped[str | None] = mapped_column(String(64))
    mobile: Mapped[str] = mapped_column(String(32), default="")
    channel: Mapped[str] = mapped_column(String(64), default="")
    synced_at: Mapped[dt.datetime | None]
    deleted_at: Mapped[dt.datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(String(96))
    # the latest follow-up record's time (models/followup.py), read by the public-pool rules
    last_followed_at: Mapped[dt.datetime | None]
    # the company (企业, models/orgs.py) this customer belongs to, at most one
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    # the public pool (models/pool.py): the home pool whose rules apply, in it since `pooled_at` (None: a
    # member follows it), the follower it left and why; when the current follower got it
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))
    pooled_at: Mapped[dt.datetime | None]
    pool_left_by: Mapped[str | None] = mapped_column(String(64))
    pool_reason: Mapped[str] = mapped_column(String(64), default="")
    assigned_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    follows: Mapped[list[FollowRelation]] = relationship(
        back_populates="customer", order_by="FollowRelation.added_at"
    )


class FollowRelation(Base):
    """A staff member following a customer, with what that member recorded about them."""

    __tablename__ = "follow_relations"
    __table_args__ = (
        UniqueConstraint("customer_id", "userid"),
        Index("ix_follow_relations_corp_id_userid", "corp_id", "userid"),
        # the customer analysis (web/stats_customers.py): relations added, and lost, in a period (covering)
        Index("ix_follow_relations_corp_added", "corp_id", "added_at", "userid"),
        Index("ix_follow_relations_corp_status_changed", "corp_id", "status", "status_changed_at", "userid"),
        # a segment's "has an active relation added in the range", answered from this index alone
        Index("ix_follow_relations_customer_status_added", "customer_id", "status", "added_at"),
    )

    id: Mapped[intpk]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    remark: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    remark_mobiles: Mapped[list[Any]] = mapped_column(default=list)
    add_way: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(64), default="")
    added_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(24), default=FollowStatus.active.value)
    status_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    channel_code_id: Mapped[int | None]
    inherit_status: Mapped[str] = mapped_column(String(16), default="")
    transfer_fail_reason: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="follows")


def followed_or_owned_by(userids: Collection[str]) -> ColumnElement[bool]:
    """THE customer data-scope predicate: a customer one of `userids` follows (a follow relation, as WeCom
    reports it) or owns (跟进人, `owner_userid`: a claim or an assignment from the public pool makes the member
    the owner whether or not they are the customer's WeCom friend). Every door that shows a member "their"
    customers asks this one function: the admin API's `_scoped` (web/api_customers.py, and through it the
    sales, segment, org and sidebar scopes), the conversation search (web/api_messages.py) and the bot
    (bot/scope.py), so a claimed customer is found wherever its owner looks."""
    return or_(Customer.follows.any(FollowRelation.userid.in_(userids)), Customer.owner_userid.in_(userids))
