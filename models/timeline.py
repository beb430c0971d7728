"""The customer timeline (客户动态): what happened to a customer, when, through whom."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, intpk, utcnow


class CustomerEvent(Base):
    __tablename__ = "customer_events"
    __table_args__ = (
        Index("ix_customer_events_customer_id_at", "customer_id", "at"),
        # One timeline entry per (customer, kind, source event): replays do not repeat history.
        Index("uq_customer_events_dedup", "customer_id", "kind", "source", unique=True),
    )

    id: Mapped[intpk]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(32))
    userid: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(96))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
