"""What the service does for a person in bulk and on their behalf (issue 17): the download centre's files
(`Download`, 004 §9.1), bulk actions with one result per item (`BulkAction`, `BulkItem`), and the log of
every app message sent to staff (`NotificationLog`, §9.13).

A download and a bulk action are each done by a job run (`job_runs`, jobs/progress.py): its state and
progress are read from there, never copied here."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk

LISTED_DAYS = 30
"""§9.1: the download centre lists 30 days of imports and exports."""
KEPT_DAYS = 7
"""§9.1.2: a file made is kept at most 7 days."""
MAX_BULK_ITEMS = 1000
"""Rows one bulk action takes (issue 17)."""


class DownloadKind(enum.StrEnum):
    export = "export"  # 下载文件
    imported = "import"  # 导入文件 (its file: the rows that failed, with their reason)


class Download(Base):
    """One import or export in the download centre, owned by whoever asked (their actor, corp and, for a
    member, userid): only they list it and fetch its file."""

    __tablename__ = "downloads"
    __table_args__ = (Index("ix_downloads_owner_created_at", "corp_id", "owner", "created_at"),
                      Index("ix_downloads_expires_at", "expires_at"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(128), doc="the asker's actor: token:<name> or sidebar:<userid>")
    userid: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    what: Mapped[str] = mapped_column(String(32), doc="the source (任务来源): customers, leads, …")
    filename: Mapped[str] = mapped_column(String(160))
    job_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id"))
    file_key: Mapped[str | None] = mapped_column(String(32))
    rows: Mapped[int | None]
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime | None] = mapped_column(doc="the file is purged then (KEPT_DAYS after it was made)")
    purged_at: Mapped[dt.datetime | None]


class BulkAction(Base):
    """A bulk action (tag, untag, change follower, delete) on up to MAX_BULK_ITEMS selected rows."""

    __tablename__ = "bulk_actions"
    __table_args__ = (Index("ix_bulk_actions_corp_id", "corp_id"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(128))
    userid: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id"))
    created_at: Mapped[created_at]


class BulkItem(Base):
    """One selected row's result: `ok` None while WeCom has not answered yet (its outbox row or hand-over
    item is still open), then True, or False with the reason (WeCom's errcode and errmsg when it refused)."""

    __tablename__ = "bulk_items"
    __table_args__ = (Index("ix_bulk_items_bulk_id_position", "bulk_id", "position"),)

    id: Mapped[intpk]
    bulk_id: Mapped[int] = mapped_column(ForeignKey("bulk_actions.id"))
    position: Mapped[int]
    target_id: Mapped[int]
    ok: Mapped[bool | None]
    errcode: Mapped[int | None]
    error: Mapped[str] = mapped_column(String(255), default="")
    outbox_id: Mapped[int | None]
    transfer_item_id: Mapped[int | None]


class NotificationLog(Base):
    """One app message (message/send) the service sent to staff, with WeCom's answer: who did not get it
    (invaliduser, unlicenseduser) or the errcode that refused it whole."""

    __tablename__ = "notifications_log"
    __table_args__ = (Index("ix_notifications_log_corp_id_created_at", "corp_id", "created_at"),
                      Index("ix_notifications_log_outbox_id", "outbox_id"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    outbox_id: Mapped[int | None]
    category: Mapped[str] = mapped_column(String(32))
    recipients: Mapped[str] = mapped_column(Text, doc="userids as |a|b|, so one is found with LIKE '%|a|%'")
    parties: Mapped[list[Any]] = mapped_column(default=list)
    msgtype: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), doc="sent, partial (some recipients refused) or failed")
    errcode: Mapped[int | None]
    errmsg: Mapped[str] = mapped_column(String(255), default="")
    msgid: Mapped[str] = mapped_column(String(128), default="")
    invalid_users: Mapped[list[Any]] = mapped_column(default=list)
    unlicensed_users: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[created_at]
