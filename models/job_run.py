"""Long work the admin starts (a directory or tag sync, an export) and how far it has got, so the API and
the CLI can show progress while an RQ worker does it. One row per run; `jobs.progress` writes it."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk

MAX_ERRORS = 50
"""Errors kept per run (the count goes on): enough to act on, bounded for a run that fails item by item."""


class JobState(enum.StrEnum):
    queued = "queued"  # waiting for a worker, or for a retry after an error
    running = "running"
    done = "done"
    failed = "failed"  # for good: its retries are spent, or retrying could not help


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_corp_kind", "corp_id", "kind"),)

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(32))
    corp_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=JobState.queued.value)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None]
    error_count: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list[Any]] = mapped_column(default=list)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None]
    requested_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[created_at]
    started_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    @property
    def finished(self) -> bool:
        return self.state in (JobState.done.value, JobState.failed.value)

    def public(self) -> dict[str, Any]:
        """The API's view of the run: the result without the server-side file path."""
        def at(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        result = {k: v for k, v in (self.result or {}).items() if k != "path"} if self.result is not None else None
        return {"id": self.id, "kind": self.kind, "corp_id": self.corp_id, "state": self.state, "done": self.done,
                "total": self.total, "error_count": self.error_count, "errors": list(self.errors or []),
                "result": result, "requested_by": self.requested_by, "created_at": at(self.created_at),
                "started_at": at(self.started_at), "updated_at": at(self.updated_at),
                "finished_at": at(self.finished_at)}
