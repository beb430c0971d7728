"""Welcome messages (欢迎语) and the material library their attachments come from."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class WelcomeScope(enum.StrEnum):
    default = "default"
    staff = "staff"
    code = "code"


class Material(Base):
    """A library item (素材库 / 企业文件夹, 004 §6.2) usable as an attachment of welcomes, follow-ups and
    quick replies and sent from the sidebar: text {text}, image {media_id | pic_url} or an uploaded file,
    link {url, desc, pic_url} (the url never changes once created: radar links count opens of it),
    miniprogram {appid, page, pic_media_id}, and video / file (uploaded). An upload lives in storage/ under
    `storage_key`; WeCom's temporary media_id for it is made on demand (wecom/media.py)."""

    __tablename__ = "materials"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(128), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("library_categories.id"))
    storage_key: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None]
    uses: Mapped[int] = mapped_column(default=0)
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)


class WelcomeMessage(Base):
    """One welcome: for everyone (default), one staff member, or one channel code; optionally only for a
    time of day (corp time zone, minutes since midnight, `start` inclusive, `end` exclusive)."""

    __tablename__ = "welcome_messages"
    __table_args__ = (Index("ix_welcome_messages_corp_id_scope", "corp_id", "scope"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    userid: Mapped[str | None] = mapped_column(String(64))
    code_id: Mapped[int | None] = mapped_column(ForeignKey("channel_codes.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    material_ids: Mapped[list[Any]] = mapped_column(default=list)
    group_code_id: Mapped[int | None] = mapped_column(ForeignKey("group_codes.id"))
    """A group code (群活码) whose join way's QR code goes with the welcome (manual 3.3): the customer
    scans it to join the group; sent as `group_qr_as` (an image of the QR, or a link to it)."""
    group_qr_as: Mapped[str] = mapped_column(String(16), default="image")
    start_minute: Mapped[int | None]
    end_minute: Mapped[int | None]
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WelcomeLog(Base):
    """What happened to each WelcomeCode: sent, missed (past the 20 s window), failed, or skipped."""

    __tablename__ = "welcome_log"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    welcome_code: Mapped[str] = mapped_column(String(128), unique=True)
    external_userid: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    welcome_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[created_at]
