"""Outbound effects decided by a handler, written in the handler's transaction and run after commit."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk


class OutboxStatus(enum.StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class Outbox(Base):
    """One job to run after commit. `key` is unique so re-running a handler never adds a second row,
    and `status` is checked by the job so re-running it never repeats a done effect. `next_attempt_at` is
    when RQ is to run a failed or rate-limited effect again (None: at once); the sweeper leaves a pending
    row alone until then, and enqueues it if it is still pending well after."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_created_at", "status", "created_at"),)

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(191), unique=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    job: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]]
    queue: Mapped[str] = mapped_column(String(32), default="outbound")
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.pending.value)
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    inbox_id: Mapped[int | None]
    created_at: Mapped[created_at]
    done_at: Mapped[dt.datetime | None]
    next_attempt_at: Mapped[dt.datetime | None]
