"""Customer tags (企业客户标签): groups and tags mirrored from WeCom, and which follow relation has which.

WeCom owns ids and names (get_corp_tag_list / change_external_tag keep them current); colour and
description are ours. A tag sits on a follow relation, not on the customer: each member tags their own
customer in WeCom, and mark_tag takes the member's userid.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base, created_at, intpk, utcnow


class TagGroup(Base):
    __tablename__ = "tag_groups"
    __table_args__ = (UniqueConstraint("corp_id", "group_id"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64), default="")
    order: Mapped[int] = mapped_column(default=0)
    strategy_id: Mapped[int | None]
    """The rule group (规则组) of a rule-group tag group: its tags come from get_strategy_tag_list, not
    get_corp_tag_list, and only members in that rule group's range may use them."""
    exclusive: Mapped[bool] = mapped_column(default=False)
    """Ours (WeCom has no such flag): a customer has at most one tag of an exclusive (互斥) group, so
    tagging one removes its siblings in the same mark_tag call (manual 9.2.1)."""
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    tags: Mapped[list[Tag]] = relationship(back_populates="group", order_by="Tag.order")


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("corp_id", "tag_id"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    tag_id: Mapped[str] = mapped_column(String(64))
    group_pk: Mapped[int] = mapped_column(ForeignKey("tag_groups.id"))
    name: Mapped[str] = mapped_column(String(64), default="")
    order: Mapped[int] = mapped_column(default=0)
    colour: Mapped[str] = mapped_column(String(16), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    group: Mapped[TagGroup] = relationship(back_populates="tags")


class FollowTag(Base):
    """Tag `tag_pk` on follow relation `follow_id`, put there by `tagged_by` (a userid, `wecom` for tags
    that came in from WeCom, or `rule:<name>` for an automatic rule)."""

    __tablename__ = "follow_tags"
    # (tag_pk, follow_id): smart tags find a tag's relations from the tag side; (tag_pk, customer_id): segments
    # intersect tags per customer on this narrow index alone (web/segment_query.py)
    __table_args__ = (UniqueConstraint("follow_id", "tag_pk"),
                      Index("ix_follow_tags_tag_pk_follow_id", "tag_pk", "follow_id"),
                      Index("ix_follow_tags_tag_pk_customer_id", "tag_pk", "customer_id"))

    id: Mapped[intpk]
    follow_id: Mapped[int] = mapped_column(ForeignKey("follow_relations.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    """The follow relation's customer (a relation never changes customer), copied here so a tag's customers
    are one index range, without a lookup into follow_relations per row. Set by handlers.tags.follow_tag."""
    tag_pk: Mapped[int] = mapped_column(ForeignKey("tags.id"))
    tagged_by: Mapped[str] = mapped_column(String(96), default="wecom")
    tagged_at: Mapped[created_at]
