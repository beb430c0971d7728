"""A corp's once-a-local-day run, claimed by inserting its (corp_id, day) row: the unique key lets one worker
have it; a claim left unfinished past STALE (its worker died) is taken over. Shared by the public pool's scan
(jobs/pool_scan.py) and the smart tags' daily run (jobs/smart_tags.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from jobs.runtime import Runtime

STALE = dt.timedelta(hours=1)


def claim_day(runtime: Runtime, model: Any, corp_id: str, day: dt.date, now: dt.datetime) -> int | None:
    """The claim row's id for `corp_id`'s `day` if this worker gets it (new, or stale and taken over), else
    None. `model` has corp_id, day, started_at, finished_at (unique on corp_id, day)."""
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
            model.started_at < now - STALE).values(started_at=now).execution_options(synchronize_session=False))
        if taken.rowcount != 1:
            return None
        return s.scalar(select(model.id).where(model.corp_id == corp_id, model.day == day))
