"""Progress of long work (directory and tag syncs, exports, and the imports and syncs to come), kept on its
`job_runs` row so `GET /api/v1/jobs/<id>` and the CLI's progress bar can show it while a worker does it.

A view opens the run (`open_run`, queued, in its own transaction) and passes the id to the work; the work
wraps itself in one line:

    with tracked(job_id) as progress:
        for item in progress.each(items): ...       # or progress.total = n; progress.advance(k)
        progress.result = {...}

Entering marks the run running; leaving marks it done (done = total) with `progress.result`; an exception
is noted on the run, which goes back to queued, since the job's retry comes next, and `fail_run` (called
from the job's dead-letter hook) marks it failed once no retry is left. `tracked(None)` tracks nothing, so
the same work also runs untracked (an outbox row a handler planned).

Counting writes the row at most every FLUSH_SECONDS, each a short transaction of its own. So never count
while holding a write transaction: on SQLite the count would wait for the writer gate the work holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from jobs.runtime import current
from models.db import utcnow
from models.job_run import MAX_ERRORS, JobRun, JobState

FLUSH_SECONDS = 0.5
T = TypeVar("T")


def open_run(s: Session, kind: str, corp_id: str, requested_by: str, **params: Any) -> JobRun:
    """A queued run, in the caller's transaction (flushed, so it has its id)."""
    run = JobRun(kind=kind, corp_id=corp_id, requested_by=requested_by, params=params, state=JobState.queued.value,
                 done=0, error_count=0, errors=[])
    s.add(run)
    s.flush()
    return run


def fail_run(job_id: int | None, error: str) -> None:
    """The run failed for good (the job's dead-letter hook calls this); `error` is kept unless the run
    noted one already (the attempt's own, from `tracked`)."""
    if job_id is None:
        return
    progress = Progress(job_id)
    with current().Session() as s:
        run = s.get(JobRun, job_id)
        if run is None:
            return
        progress.total, progress.done = run.total, run.done
        if not run.errors:
            progress.error(error[:500])
    progress._write(state=JobState.failed.value, finished_at=utcnow())


class Progress:
    """One run's counters, written to its row as they move (`job_id` None: counted, never written)."""

    def __init__(self, job_id: int | None) -> None:
        self.job_id = job_id
        self.total: int | None = None
        self.done = 0
        self.result: dict[str, Any] | None = None
        self._new_errors: list[str] = []
        self._written: tuple[int | None, int] = (None, 0)
        self._last = 0.0

    def each(self, items: Iterable[T]) -> Iterator[T]:
        """`items` one by one, counting each once it has been handled; the total is their number."""
        items = list(items)
        self.total = len(items)
        self.flush()
        for item in items:
            yield item
            self.advance()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - self._last >= FLUSH_SECONDS:
            self.flush()

    def error(self, message: str) -> None:
        """An item that failed while the run goes on (an import's bad line): counted, the first few kept."""
        self._new_errors.append(message)

    def flush(self) -> None:
        """Write the counters now, if they moved."""
        if (self.total, self.done) != self._written or self._new_errors:
            self._write()
        self._last = time.monotonic()

    def _write(self, **values: Any) -> None:
        """The counters, the errors noted since the last write and `values`, in one short transaction."""
        if self.job_id is None:
            return
        with current().WriteSession.begin() as s:
            run = s.get(JobRun, self.job_id)
            if run is None:
                return
            for name, value in {"total": self.total, "done": self.done, "updated_at": utcnow(), **values}.items():
                setattr(run, name, value)
            if self._new_errors:
                run.errors = [*run.errors, *self._new_errors][:MAX_ERRORS]
                run.error_count += len(self._new_errors)
        self._new_errors = []
        self._written = (self.total, self.done)


@contextmanager
def tracked(job_id: int | None) -> Iterator[Progress]:
    """Run the body as job run `job_id`: running, then done with `progress.result`, or back to queued with
    the error noted if it raises (see the module's docstring)."""
    progress = Progress(job_id)
    progress._write(state=JobState.running.value, started_at=utcnow(), done=0)
    try:
        yield progress
    except Exception as exc:
        progress.error(f"{type(exc).__name__}: {exc}"[:500])
        progress._write(state=JobState.queued.value)
        raise
    progress.total = progress.done = max(progress.done, progress.total or 0)
    progress._write(state=JobState.done.value, result=progress.result, finished_at=utcnow())
