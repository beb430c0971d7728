"""Opportunities (商机, 004 §4.10) and the corp's stages (9.9.3 商机阶段), with every stage change kept.

A corp's stages are ordered open stages plus one `won` and one `lost` stage (terminal; made with the corp's
first stage). Amounts are integer cents. Who may move a deal to which stage is rules/stages.py."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class StageOutcome(enum.StrEnum):
    open = "open"
    won = "won"
    lost = "lost"


class OpportunityStage(Base):
    __tablename__ = "opportunity_stages"
    __table_args__ = (Index("ix_opportunity_stages_corp_id_position", "corp_id", "position"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)
    probability: Mapped[int] = mapped_column(default=0)  # win probability, percent
    outcome: Mapped[str] = mapped_column(String(8), default=StageOutcome.open.value)
    created_at: Mapped[created_at]


class LostReason(Base):
    """One entry of a corp's list of lost reasons (输单原因, 9.9.3), in `position` order. A deal moved to the
    lost stage names one by id, so a rename shows on every deal and a reason in use cannot be deleted."""

    __tablename__ = "lost_reasons"
    __table_args__ = (UniqueConstraint("corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))  # as long as the free-text reasons it replaces
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]


class Opportunity(Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        Index("ix_opportunities_corp_id_stage_id", "corp_id", "stage_id"),
        Index("ix_opportunities_customer_id", "customer_id"),
        Index("ix_opportunities_corp_id_created_at", "corp_id", "created_at"),  # the funnel's deals
        Index("ix_opportunities_corp_id_owner_userid_created_at", "corp_id", "owner_userid", "created_at"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    name: Mapped[str] = mapped_column(String(128))
    stage_id: Mapped[int] = mapped_column(ForeignKey("opportunity_stages.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    expected_close: Mapped[dt.date]
    owner_userid: Mapped[str] = mapped_column(String(64))
    pinned: Mapped[bool] = mapped_column(default=False)  # at most one per customer
    lost_reason_id: Mapped[int | None] = mapped_column(ForeignKey("lost_reasons.id"))  # set while lost
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StageChange(Base):
    """One move of an opportunity into `to_stage_id` (from None: the deal was created there), by whom."""

    __tablename__ = "opportunity_stage_changes"
    __table_args__ = (
        # a deal's history in order, with the stage: the funnel reads thousands of them from the index alone
        Index("ix_opportunity_stage_changes_opportunity_id_at_to_stage_id", "opportunity_id", "at", "to_stage_id"),
        Index("ix_opportunity_stage_changes_to_stage_id_at", "to_stage_id", "at"),  # wins and losses in a period
    )

    id: Mapped[intpk]
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"))
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity_stages.id"))
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("opportunity_stages.id"))
    userid: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(96))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TargetPeriod(enum.StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


class SalesTarget(Base):
    """A sales target (销售目标, 003) for one member (`userid`) or one department with its sub-departments
    (`dept_id`), exactly one of the two, for the month, quarter or year starting on `start` (the corp's
    local calendar). Completion is computed when read (web/api_targets.py), never stored."""

    __tablename__ = "sales_targets"
    __table_args__ = (Index("ix_sales_targets_corp_id_start", "corp_id", "start"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str | None] = mapped_column(String(64))
    dept_id: Mapped[int | None]
    period: Mapped[str] = mapped_column(String(8))
    start: Mapped[dt.date]
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
