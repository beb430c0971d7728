"""Queues, retry policy, inline mode and the dead-letter list.

Every job is an ordinary function registered here by name (`@job("process_event", queue="events")`),
so a dead letter can be replayed by name and args. With `REDIS_URL` set, jobs go to RQ with
exponential back-off retries; without it they run inline, right after the caller's commit (the embedded
default). A job that fails for good, because its retries are spent or because it raised a `FinalError`,
is written to the `dead_letters` table and its `on_dead` hook marks the CRM row failed.

RQ calls `on_failure` on *every* failed attempt (and for jobs abandoned by a killed worker), so the
callback dead-letters only when no retry is left. A WeCom rate limit (`WeComError.retry_after`) is no
failure of the job: the callback re-schedules it for when WeCom takes calls again, without spending one of
its retries, so an effect waits out any number of rate-limited minutes and is never dead-lettered for them.
Each re-scheduling is told to the job's `on_reschedule` hook (the outbox row records when it is due).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, replace
from typing import Any
from collections.abc import Iterable, Callable

from jobs.dead_corp import corp_of
from models import DeadLetter
from models.db import utcnow
from jobs.runtime import current
from wecom.client import WeComError
from web.logs import current_request_id  # the request (or job) that enqueues, carried to the worker's lines

log = logging.getLogger(__name__)

# Queue names, highest priority first: workers listen in this order. `welcome` comes first because a
# WelcomeCode dies 20 s after the event, whatever backlog the other queues hold. `outbound` comes before
# `events`: finishing the effects of events already handled (tags, notifications, profile fetches) before
# starting new ones keeps a burst of callbacks from starving them for the length of the burst.
QUEUES = ("welcome", "outbound", "events", "maintenance")
URGENT = QUEUES[0]
"""Effects a customer is waiting on go here; a job that commits such rows runs them itself (`hand_on`)."""
RETRY_INTERVALS = {
    "welcome": [1, 2, 4],
    "events": [5, 30, 120, 600, 1800],
    "outbound": [2, 10, 60, 300, 900],
    "maintenance": [],
}


class FinalError(Exception):
    """A failure retrying cannot mend (WeCom said no for good, the row is gone): dead-letter at once."""


DeadHook = Callable[[list[Any], str], None]
ReplayHook = Callable[[list[Any]], None]
RescheduleHook = Callable[[list[Any], dt.datetime], None]


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: Callable[..., Any]
    queue: str
    on_dead: DeadHook | None = None
    on_replay: ReplayHook | None = None
    on_reschedule: RescheduleHook | None = None


JOBS: dict[str, JobSpec] = {}


def job(name: str, queue: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        JOBS[name] = JobSpec(name, fn, queue)
        return fn

    return register


def _hook(name: str, slot: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(fn: Callable[..., None]) -> Callable[..., None]:
        JOBS[name] = replace(JOBS[name], **{slot: fn})  # type: ignore[arg-type]  # slot: on_dead or on_replay
        return fn

    return register


def on_dead(name: str) -> Callable[[DeadHook], DeadHook]:
    """Register what to mark in the DB when job `name` is dead-lettered (args, error)."""
    return _hook(name, "on_dead")


def on_replay(name: str) -> Callable[[ReplayHook], ReplayHook]:
    """Register how to make job `name`'s row runnable again before a dead letter is replayed (args)."""
    return _hook(name, "on_replay")


def on_reschedule(name: str) -> Callable[[RescheduleHook], RescheduleHook]:
    """Register what to note in the DB when job `name` fails and RQ will run it again at a time (args, when)."""
    return _hook(name, "on_reschedule")


def enqueue(name: str, *args: Any, job_id: str | None = None, queue: str | None = None,
            retry_as: str | None = None, delay: float = 0.0) -> None:
    """Run job `name` with `args` (on `queue`, default the job's own): on RQ when Redis is configured,
    else now, in this process.

    Retries follow the back-off of queue `retry_as` (default: the queue it runs on). A job sent ahead of
    its queue only to be taken sooner (an event carrying a WelcomeCode goes on `welcome`) keeps its own
    queue's patience: the welcome queue's few quick retries suit a 20 s code, not a customer upsert.

    On RQ this raises redis' ConnectionError when Redis is down; callers that must not fail (the callback
    view) catch it and leave the row for the sweeper. `delay` (seconds, RQ only) schedules the job instead.
    """
    spec = JOBS[name]
    runtime = current()
    queue = queue or spec.queue
    if runtime.redis is None:
        _run_inline(spec, list(args), queue)
        return
    from rq import Callback, Retry

    intervals = RETRY_INTERVALS[retry_as or queue]
    # One MULTI/EXEC for the whole enqueue (RQ alone uses two): the job hash and the queue push still
    # land atomically, at half the round trips on the callback's hot path.
    rq_queue = runtime.queue(queue)
    with runtime.redis.pipeline() as pipe:
        options: dict[str, Any] = dict(
            job_id=job_id,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            on_failure=Callback(rq_failure_callback),
            meta={"scrm_job": name, "scrm_retry_as": retry_as or queue, "request_id": current_request_id()},
            result_ttl=3600,
            failure_ttl=7 * 86400,
            pipeline=pipe,
        )
        if delay > 0:
            rq_queue.enqueue_in(dt.timedelta(seconds=delay), spec.fn, *args, **options)
        else:
            rq_queue.enqueue(spec.fn, *args, **options)
        pipe.execute()


def enqueue_outbox(rows: Iterable[tuple[int, str]], delay: float = 0.0) -> None:
    """Deliver committed outbox rows, given as (id, queue): welcome-queue rows first, since a customer is
    waiting on them. The job id is the row's, so a row enqueued twice still runs once at a time. `delay`:
    seconds to wait first (a rate-limited WeCom API)."""
    for outbox_id, queue in sorted(rows, key=lambda r: QUEUES.index(r[1])):
        enqueue("deliver_outbox", outbox_id, job_id=f"outbox-{outbox_id}", queue=queue, delay=delay)


def _run_inline(spec: JobSpec, args: list[Any], queue: str) -> None:
    try:
        spec.fn(*args)
    except Exception as exc:  # inline mode has no retry: the failure goes straight to the dead letters
        dead_letter(spec.name, args, exc, attempts=1, queue=queue)


def rq_failure_callback(rq_job: Any, connection: Any, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """RQ's on_failure: re-schedule a rate-limited job for when WeCom takes calls again; dead-letter only
    the last failure of a job (or a FinalError at once)."""
    if isinstance(exc_value, WeComError) and exc_value.retry_after is not None:
        _retry_after(rq_job, exc_value.retry_after)
    final = isinstance(exc_value, FinalError) or not rq_job.retries_left
    if not final:
        _rescheduled(rq_job, rq_job.get_retry_interval())
        return
    policy = rq_job.meta.get("scrm_retry_as", rq_job.origin)  # a replay goes back to that queue
    attempts = len(RETRY_INTERVALS.get(policy, [])) + 1 - int(rq_job.retries_left or 0)
    if rq_job.retries_left:
        rq_job.retries_left = 0  # a FinalError: no point in retrying; RQ reads this after the callback
    dead_letter(rq_job.meta.get("scrm_job", rq_job.func_name), list(rq_job.args), exc_value, attempts=attempts,
                queue=policy)


def _retry_after(rq_job: Any, seconds: float) -> None:
    """Make RQ's coming retry run in `seconds` at no cost to the job's retry budget: one more retry, whose
    interval is put where RQ reads the next one (`Job.get_retry_interval`), the others keeping their order."""
    intervals = list(rq_job.retry_intervals or [])
    left = int(rq_job.retries_left or 0)
    at = max(len(intervals) - left, 0)
    rq_job.retry_intervals = [*intervals[:at], math.ceil(seconds), *intervals[at:]]
    rq_job.retries_left = left + 1


def _rescheduled(rq_job: Any, seconds: float) -> None:
    spec = JOBS.get(rq_job.meta.get("scrm_job", ""))
    if spec and spec.on_reschedule:
        spec.on_reschedule(list(rq_job.args), utcnow() + dt.timedelta(seconds=seconds))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def dead_letter(name: str, args: list[Any], exc: BaseException, attempts: int, queue: str | None = None) -> None:
    """Keep a job that failed for good, and let its owner mark the CRM row failed."""
    error = _describe(exc)
    log.warning("job %s%s failed for good after %d attempt(s): %s", name, tuple(args), attempts, error)
    spec = JOBS.get(name)
    runtime = current()
    with runtime.WriteSession.begin() as s:
        s.add(DeadLetter(job=name, args=args, queue=queue or (spec.queue if spec else "?"), error=error,
                         attempts=attempts, corp_id=corp_of(s, name, args)))
    if spec and spec.on_dead:
        spec.on_dead(args, error)


class UnknownJob(LookupError):
    """A dead letter names a job this version no longer has (renamed or removed since it failed)."""


def replay_dead_letter(dead_letter_id: int) -> DeadLetter | None:
    """Run a dead-lettered job again with its args; None when there is no such dead letter. UnknownJob,
    with the row left as it was, when its job no longer exists."""
    runtime = current()
    with runtime.WriteSession.begin() as s:
        row = s.get(DeadLetter, dead_letter_id)
        if row is None:
            return None
        spec = JOBS.get(row.job)
        if spec is None:
            raise UnknownJob(f"dead letter {dead_letter_id} names job {row.job!r}, which this version does not have")
        row.replayed_at = utcnow()
        name, args, queue = row.job, list(row.args), row.queue
    if spec.on_replay:
        spec.on_replay(args)
    enqueue(name, *args, queue=queue)
    return row
