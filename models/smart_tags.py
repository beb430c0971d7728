"""Smart tags (智能标签, 004 §4.6.3 and 9.2.3): rules that add corp tags to the customers who match them.

A rule's `conditions` is a group of conditions (web/schemas/smart_tags.py says the shape: two levels at most);
`triggers` lists the events that can change its answer (",message,customer,daily,"), so an event loads only
the rules it can affect. Tags are only ever added: a `SmartTagHit` records that the rule tagged a customer
(once per rule and customer), so a customer is never tagged twice by a rule, and changing the rule's tags
re-tags exactly its hits. `SmartTagScan` is a corp's claim on the daily run of the time-based rules (silence,
birthday, age), once per corp-local day.

A rule's `subject` (标签类型, 004 §4.6.3.2 B) is `customer` (its tags are corp tags, added through WeCom) or
`group` (its tags are our own group tags, 群标签, put on customer groups at once); a group rule's hits are
`SmartTagGroupHit` rows, as its subject is a customer group.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class SmartTagRule(Base):
    __tablename__ = "smart_tag_rules"
    __table_args__ = (Index("ix_smart_tag_rules_corp_id_enabled", "corp_id", "enabled"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(16), default="customer")  # customer | group
    tag_pks: Mapped[list[int]] = mapped_column(JSON, default=list)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    triggers: Mapped[str] = mapped_column(String(255), default=",")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(96), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SmartTagHit(Base):
    """Rule `rule_id` tagged customer `customer_id` at `at`."""

    __tablename__ = "smart_tag_hits"
    __table_args__ = (UniqueConstraint("rule_id", "customer_id"),
                      Index("ix_smart_tag_hits_customer_id", "customer_id"))

    id: Mapped[intpk]
    rule_id: Mapped[int] = mapped_column(ForeignKey("smart_tag_rules.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[created_at]


class SmartTagGroupHit(Base):
    """Group rule `rule_id` tagged customer group `group_id` at `at`."""

    __tablename__ = "smart_tag_group_hits"
    __table_args__ = (UniqueConstraint("rule_id", "group_id"),
                      Index("ix_smart_tag_group_hits_group_id", "group_id"))

    id: Mapped[intpk]
    rule_id: Mapped[int] = mapped_column(ForeignKey("smart_tag_rules.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("customer_groups.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[created_at]


class SmartTagScan(Base):
    """A corp's daily run of its time-based rules for one local day: the unique row is the claim."""

    __tablename__ = "smart_tag_scans"
    __table_args__ = (UniqueConstraint("corp_id", "day"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date]
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    tagged: Mapped[int] = mapped_column(default=0)
