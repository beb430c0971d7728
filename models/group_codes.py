"""Group channel codes (群活码, 004 §3.1), WeCom's own 「加入群聊」 join ways, and group welcome templates
(客户群欢迎语, §3.3.2).

A `GroupCode` is our fixed QR: its landing route (`/g/<slug>`) shows the QR image of one of its real groups
(`GroupCodeEntry`, in the admin's order), because a WeCom group QR lasts 7 days and a group joined through
a code holds 200. The uploaded QR image is kept in the entry row (the project has no file store yet; at most
2 MB, and the column is deferred so listing entries never loads it). `state` names the code to WeCom: a
join through the code's `GroupJoinWay` comes back as the member's `state` in groupchat/get
(`GroupMember.join_state`). `GroupWelcomeTemplate` is our copy of a group_welcome_template, `template_id`
WeCom's id once add answered."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow
from models.groups import GroupMember

ImageBytes = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")
"""2 MB images: MySQL's BLOB stops at 64 KiB, MEDIUMBLOB at 16 MiB."""


# Joins through a code are counted by their state (list, detail, stats per day): without this index that
# count reads every member stint of the corp.
Index("ix_group_members_corp_id_join_state_joined_at", GroupMember.corp_id, GroupMember.join_state,
      GroupMember.joined_at)


class GroupCodeStrategy(enum.StrEnum):
    """Which group a scan gets: the first usable one (溢出), each in turn (轮流), or the one expiring first."""

    overflow = "overflow"
    round_robin = "round_robin"
    nearest_expiry = "nearest_expiry"


class GroupCode(Base):
    """One group channel code of a corp."""

    __tablename__ = "group_codes"
    __table_args__ = (UniqueConstraint("corp_id", "state"), Index("ix_group_codes_corp_id_status", "corp_id", "status"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    slug: Mapped[str] = mapped_column(String(43), unique=True)  # the landing route's unguessable name
    state: Mapped[str] = mapped_column(String(30))  # what a join_way of this code tells WeCom
    name: Mapped[str] = mapped_column(String(30))
    scene: Mapped[str] = mapped_column(String(30), default="")
    channel: Mapped[str] = mapped_column(String(64), default="")
    guide: Mapped[str] = mapped_column(String(30), default="")  # 引导语 shown with the QR
    strategy: Mapped[str] = mapped_column(String(16), default=GroupCodeStrategy.overflow.value)
    next_index: Mapped[int] = mapped_column(default=0)  # the round-robin cursor into the ordered entries
    status: Mapped[str] = mapped_column(String(16), default="normal")  # models.channels.CodeStatus
    abnormal_count: Mapped[int] = mapped_column(default=0)  # transitions to abnormal: one notice each
    owner_userid: Mapped[str] = mapped_column(String(64))
    creator_userid: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(96), default="")
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    """The channel (渠道, models/channel_sources.py) the code is grouped under."""
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GroupCodeEntry(Base):
    """One real group behind a code: its QR image and when that QR expires."""

    __tablename__ = "group_code_entries"
    __table_args__ = (UniqueConstraint("code_id", "group_id"),)

    id: Mapped[intpk]
    code_id: Mapped[int] = mapped_column(ForeignKey("group_codes.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("customer_groups.id"))
    position: Mapped[int] = mapped_column(default=0)
    image: Mapped[bytes] = mapped_column(ImageBytes, deferred=True)
    image_type: Mapped[str] = mapped_column(String(16))  # image/png or image/jpeg
    image_bytes: Mapped[int]
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[created_at]


class GroupCodeDailyStat(Base):
    """Scans per code, corp-local day and group shown (chat_id "": nothing to show, the code was abnormal)."""

    __tablename__ = "group_code_daily_stats"
    __table_args__ = (UniqueConstraint("code_id", "day", "chat_id"),)

    id: Mapped[intpk]
    code_id: Mapped[int] = mapped_column(ForeignKey("group_codes.id"))
    day: Mapped[dt.date]
    chat_id: Mapped[str] = mapped_column(String(64), default="")
    scans: Mapped[int] = mapped_column(default=0)


class GroupJoinWay(Base):
    """A code's WeCom 「加入群聊」 (groupchat/add_join_way): at most one per code; `config_id` once WeCom made it."""

    __tablename__ = "group_join_ways"

    id: Mapped[intpk]
    code_id: Mapped[int] = mapped_column(ForeignKey("group_codes.id"), unique=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    scene: Mapped[int] = mapped_column(default=2)  # 1 mini-program plug-in, 2 QR code
    remark: Mapped[str] = mapped_column(String(30), default="")
    auto_create_room: Mapped[bool] = mapped_column(default=True)
    room_base_name: Mapped[str] = mapped_column(String(40), default="")
    room_base_id: Mapped[int | None]
    chat_ids: Mapped[list[Any]] = mapped_column(default=list)
    config_id: Mapped[str | None] = mapped_column(String(64))
    qr_code: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GroupWelcomeTemplate(Base):
    """A group welcome (入群欢迎语素材): text and at most one library item, mirrored to WeCom."""

    __tablename__ = "group_welcome_templates"
    __table_args__ = (Index("ix_group_welcome_templates_corp_id", "corp_id"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id"))
    notify: Mapped[bool] = mapped_column(default=True)
    template_id: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(96), default="")
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
