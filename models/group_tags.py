"""Group tags (群标签, 004 §4.6.2): our own tag library for customer groups. Unlike customer tags they are
not WeCom's (WeCom has no tags on external chats), so ids are ours and every change is immediate.

The rules are the corp tags' (names of at most 30 characters, a new group comes with at least one tag,
names differ within a group, a group that still holds tags or a tag still on a group cannot be deleted),
plus 互斥: an `exclusive` group's tags are at most one per customer group."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base, created_at, intpk, utcnow


class GroupTagGroup(Base):
    __tablename__ = "group_tag_groups"
    __table_args__ = (UniqueConstraint("corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    order: Mapped[int] = mapped_column(default=0)
    exclusive: Mapped[bool] = mapped_column(default=False)  # 互斥: one of its tags per group at most
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    tags: Mapped[list[GroupTag]] = relationship(back_populates="group", order_by="GroupTag.order.desc()")


class GroupTag(Base):
    __tablename__ = "group_tags"
    __table_args__ = (UniqueConstraint("tag_group_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    tag_group_id: Mapped[int] = mapped_column(ForeignKey("group_tag_groups.id"))
    name: Mapped[str] = mapped_column(String(64))
    order: Mapped[int] = mapped_column(default=0)
    colour: Mapped[str] = mapped_column(String(16), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[created_at]

    group: Mapped[GroupTagGroup] = relationship(back_populates="tags")


class GroupTagging(Base):
    """Tag `tag_id` on customer group `group_id`, put there by `tagged_by` (`token:<name>`)."""

    __tablename__ = "group_taggings"
    __table_args__ = (UniqueConstraint("group_id", "tag_id"), Index("ix_group_taggings_tag_id", "tag_id"))

    id: Mapped[intpk]
    group_id: Mapped[int] = mapped_column(ForeignKey("customer_groups.id"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("group_tags.id"))
    tagged_by: Mapped[str] = mapped_column(String(96), default="")
    tagged_at: Mapped[created_at]
