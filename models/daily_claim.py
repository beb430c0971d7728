"""The claim of a corp's once-a-local-day run (the public pool's scan, the WeCom statistics sync, the smart
tags' time-based rules): one row per
corp and day, unique, so the first worker to insert it does the run and the others skip; a claim left
unfinished for `stale` (a worker that died, a run that failed) is taken over by a later tick."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from models.db import UTCDateTime, intpk, utcnow

if TYPE_CHECKING:
    from jobs.runtime import Runtime


class DailyClaim:
    """Columns of a claim table (a mixin: each run has its table, with its own result columns)."""

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date]
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None]


def claim_day(runtime: Runtime, model: Any, corp_id: str, day: dt.date, now: dt.datetime,
              stale: dt.timedelta) -> int | None:
    """The id of `model`'s claim of `corp_id`'s `day` if this worker gets it (new, or unfinished and older than
    `stale`, then started again at `now`), else None."""
    try:
        with runtime.WriteSession.begin() as s:
            claim = model(corp_id=corp_id, day=day, started_at=now)
            s.add(claim)
            s.flush()
            return int(claim.id)
    except IntegrityError:
        pass
    with runtime.WriteSession.begin() as s:
        taken = s.execute(update(model).where(
            model.corp_id == corp_id, model.day == day, model.finished_at.is_(None),
            model.started_at < now - stale).values(started_at=now).execution_options(synchronize_session=False))
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return s.scalar(select(model.id).where(model.corp_id == corp_id, model.day == day))
