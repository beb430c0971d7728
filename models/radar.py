"""Link radar (雷达, 004 §6.3, §9.6): a material link sent from the sidebar becomes a tracked short link per
(material, member, customer); every open of it, the corp's radar settings and the auto-tag per material.

A link's code is its only key from outside (`/r/<code>`): 24 URL-safe characters from 18 random bytes
(144 bits), so links cannot be walked. Opens keep a per-reader id (a long-lived cookie), so readers are
counted apart from opens; dwell and scroll-to-bottom come later from the beacon (web/radar.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class RadarLink(Base):
    """One tracked link: material `material_id` sent by member `userid` to customer `customer_id`."""

    __tablename__ = "radar_links"
    __table_args__ = (UniqueConstraint("material_id", "userid", "customer_id"),
                      Index("ix_radar_links_corp_id_customer_id", "corp_id", "customer_id"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"))
    userid: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[created_at]


class RadarOpen(Base):
    """One open of a link. `notified_at`: when the follower was told (at once, or in a batch)."""

    __tablename__ = "radar_opens"
    __table_args__ = (Index("ix_radar_opens_link_id_at", "link_id", "at"),
                      Index("ix_radar_opens_corp_id_notified_at", "corp_id", "notified_at"))

    id: Mapped[intpk]
    link_id: Mapped[int] = mapped_column(ForeignKey("radar_links.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    reader: Mapped[str] = mapped_column(String(32))
    agent: Mapped[str] = mapped_column(String(16))  # wxwork, wechat, mobile, desktop, bot
    dwell_seconds: Mapped[int] = mapped_column(default=0)
    reached_bottom: Mapped[bool] = mapped_column(default=False)
    beacons: Mapped[int] = mapped_column(default=0)  # beacons taken for this open (bounded)
    notified_at: Mapped[dt.datetime | None]
    at: Mapped[created_at]


class RadarSettings(Base):
    """How a corp's followers hear of opens: `notify` off, instant (one app message per open) or batched
    (a digest every `batch_minutes`, sent only within the corp's working hours)."""

    __tablename__ = "radar_settings"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    notify: Mapped[str] = mapped_column(String(16), default="instant")
    batch_minutes: Mapped[int] = mapped_column(default=30)
    last_digest_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RadarTagRule(Base):
    """Auto-tag on open: the corp tag `tag_pk` is added to a customer who opens a link of `material_id`."""

    __tablename__ = "radar_tag_rules"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"), unique=True)
    tag_pk: Mapped[int] = mapped_column(ForeignKey("tags.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RadarTagged(Base):
    """A customer auto-tagged for a material's rule: the unique row makes it once per customer."""

    __tablename__ = "radar_tagged"
    __table_args__ = (UniqueConstraint("material_id", "customer_id"),)

    id: Mapped[intpk]
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    at: Mapped[created_at]
