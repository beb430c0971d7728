"""Lead assignment rules (线索自动分配, 004 §9.9.2) and the web sites that push leads (002 §3.7-3.8).

A rule's `conditions` is a group (rules/lead_rules.py says its shape); rules are tried in `position` order
on every new lead and the first that matches assigns it to one of its `targets`, round robin (`turn` counts
the rule's assignments; it is bumped by an UPDATE in the lead's transaction, so two concurrent saves never
take the same turn) or at random.

A source's `secret` is kept as given: the HMAC of an inbound request is checked with it, so it cannot be a
hash. It is shown once, when made. An inbound request's answer is kept per (source, Idempotency-Key), so a
repeat gets the first answer and creates nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk


class Spread(enum.StrEnum):
    round_robin = "round_robin"
    random = "random"


class LeadRule(Base):
    __tablename__ = "lead_rules"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    spread: Mapped[str] = mapped_column(String(16), default=Spread.round_robin.value)
    targets: Mapped[list[str]] = mapped_column(JSON, default=list)
    turn: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]


class LeadSource(Base):
    __tablename__ = "lead_sources"
    __table_args__ = (UniqueConstraint("corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[created_at]
    disabled_at: Mapped[dt.datetime | None]


class InboundRequest(Base):
    """The first answer to one Idempotency-Key of one source."""

    __tablename__ = "lead_inbound_requests"
    __table_args__ = (UniqueConstraint("source_id", "key"),)

    id: Mapped[intpk]
    source_id: Mapped[int] = mapped_column(ForeignKey("lead_sources.id"))
    key: Mapped[str] = mapped_column(String(128))
    status: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_at]
