"""Jobs that exhausted their retries, kept in the DB so they survive Redis and can be replayed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[intpk]
    job: Mapped[str] = mapped_column(String(64))
    corp_id: Mapped[str | None] = mapped_column(String(64), index=True)
    """The corp the job worked for, where its args say (jobs/dead_corp.py); None: a job for no one corp."""
    args: Mapped[list[Any]]
    queue: Mapped[str] = mapped_column(String(32))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    failed_at: Mapped[created_at]
    replayed_at: Mapped[dt.datetime | None]

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "job": self.job,
            "corp_id": self.corp_id,
            "args": self.args,
            "queue": self.queue,
            "error": self.error,
            "attempts": self.attempts,
            "failed_at": self.failed_at.isoformat(),
            "replayed_at": self.replayed_at.isoformat() if self.replayed_at else None,
        }
