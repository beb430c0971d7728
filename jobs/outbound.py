"""Outbound effects: run an outbox row's WeCom call after the handler's commit, and record the result.

`deliver_outbox` checks the row's status first and again when it records the result, so a job that runs
twice (a retry after a crash, the sweeper, a replay) does not repeat a done effect's writes. Each effect
is a function registered by name with `@effect`. It calls WeCom with no transaction open (an HTTP call
must not hold SQLite's write lock) and hands its DB writes to `ctx.finish`, which runs them in one short
transaction together with marking the outbox row done.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as first_done
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from handlers.contacts import apply_external_contact, apply_user, load_synced
from handlers.smart_tags import on_write
from jobs.progress import fail_run
from jobs.queue import URGENT, FinalError, dead_letter, enqueue, enqueue_outbox, job, on_dead, on_replay, on_reschedule
from jobs import rate_limits
from jobs.rate_limits import Deferred
from jobs.runtime import Runtime, current
from models import Outbox, OutboxStatus, Staff
from models.chunk import close_memo, insert_later, open_memo
from models.db import utcnow
from wecom.client import WeComClient, WeComError

log = logging.getLogger(__name__)


Write = Callable[[Session], dict[str, Any]]


@dataclass
class EffectContext:
    runtime: Runtime
    client: WeComClient
    corp_id: str
    outbox_id: int
    app_pk: int
    deferred: list[tuple[int, Write]] | None = None
    """Set by `deliver_here`: `finish` then only collects the write, to be applied with the batch's."""

    def finish(self, write: Write) -> dict[str, Any] | None:
        """Apply `write` and mark the row done, atomically; None if another run finished it first. In a
        batch (`deliver_here`) the write waits for the batch's one transaction and {} is returned."""
        if self.deferred is not None:
            self.deferred.append((self.outbox_id, write))
            return {}
        with self.runtime.WriteSession.begin() as s:
            return settle(s, self.outbox_id, write)


def settle(s: Session, outbox_id: int, write: Write) -> dict[str, Any] | None:
    """Inside the caller's transaction: `write` and the row marked done, unless it is no longer pending."""
    return _complete(s, s.scalar(select(Outbox).where(Outbox.id == outbox_id).with_for_update()), write)


def _complete(s: Session, row: Outbox | None, write: Write) -> dict[str, Any] | None:
    """`write` and `row` (locked by the caller) marked done, unless it is no longer pending."""
    if row is None or row.status != OutboxStatus.pending.value:
        return None
    row.result = write(s)
    row.status = OutboxStatus.done.value
    row.error = None
    row.done_at = utcnow()
    return row.result


Effect = Callable[..., dict[str, Any] | None]
EFFECTS: dict[str, Effect] = {}
Preparer = Callable[[Session, list[tuple[str, dict[str, Any]]]], None]
PREPARERS: dict[str, Preparer] = {}
"""Per effect: what loads, in one go, the rows a batch of its writes reads (`_settle_all`), into the batch
transaction's chunk memo (models/chunk.py); given (corp id, args) of each of the batch's rows."""


OWN_JOB: set[str] = set()
"""Urgent effects that still get a job of their own (not run by the job that planned them): a kf sync
pass pages one account and answers its customers, and two accounts' passes should run on two workers."""


def effect(name: str, own_job: bool = False, prepare: Preparer | None = None) -> Callable[[Effect], Effect]:
    def register(fn: Effect) -> Effect:
        EFFECTS[name] = fn
        if own_job:
            OWN_JOB.add(name)
        if prepare is not None:
            PREPARERS[name] = prepare
        return fn

    return register


def _pending(runtime: Runtime, ids: list[int]) -> dict[int, tuple[str, str, dict[str, Any]]]:
    """Pending rows among `ids`: id → (effect name, corp id, args)."""
    with runtime.Session() as s:  # columns, not entities: a batch's rows are read once and never changed here
        rows = s.execute(select(Outbox.id, Outbox.job, Outbox.corp_id, Outbox.args)
                         .where(Outbox.id.in_(ids), Outbox.status == OutboxStatus.pending.value))
        return {outbox_id: (job, corp_id, dict(args)) for outbox_id, job, corp_id, args in rows}


def _context(runtime: Runtime, corp_id: str, outbox_id: int, args: dict[str, Any],
             deferred: list[tuple[int, Write]] | None = None,
             clients: dict[int, WeComClient] | None = None) -> EffectContext:
    """The row's context; `args` loses its app_pk. `clients` memoizes the app lookup across a batch."""
    app_pk = int(args.pop("app_pk"))
    clients = {} if clients is None else clients
    client = clients.get(app_pk) or clients.setdefault(app_pk, runtime.client_for_app(app_pk))
    return EffectContext(runtime, client, corp_id, outbox_id, app_pk, deferred)


@job("deliver_outbox", queue="outbound")
def deliver_outbox(outbox_id: int) -> str:
    runtime = current()
    row = _pending(runtime, [outbox_id]).get(outbox_id)
    if row is None:
        return "skipped"
    name, corp_id, args = row
    fn = EFFECTS.get(name)
    if fn is None:
        raise FinalError(f"no effect named {name!r}")
    wait = rate_limits.waits(runtime, [(corp_id, name)]).get((corp_id, name))
    if wait is not None:  # another row's call was refused: no call into WeCom's block, no attempt counted
        if runtime.redis is None:  # inline: no scheduler to wait in; the sweeper takes the row after `wait`
            _defer(runtime, [(outbox_id, "", False)], wait)  # no attempt was counted: none to take back
            return "deferred"
        raise Deferred(name, wait)  # re-scheduled by rq_failure_callback, no retry spent
    with runtime.WriteSession.begin() as s:
        s.execute(update(Outbox).where(Outbox.id == outbox_id).values(attempts=Outbox.attempts + 1)
                  .execution_options(synchronize_session=False))
    try:
        result = fn(_context(runtime, corp_id, outbox_id, args), **args)
    except WeComError as exc:
        if exc.retry_after is not None:
            rate_limits.remember(runtime, (corp_id, name), exc.retry_after)
        if not exc.retryable:
            raise FinalError(str(exc)) from None
        raise
    return "done" if result is not None else "skipped"


def deliver_here(rows: list[tuple[int, str]], between: Callable[[], None] | None = None,
                 counted: bool = False) -> None:
    """Run committed outbox rows' effects now, in this process, with their DB writes in one transaction.

    For a job that has just committed effects a customer is waiting on (a kf page's bot answers), or a
    chunk of events' effects (process_inbox): they go out without an RQ round trip each, several
    customers' at once (LANES threads; one customer's rows, those naming the same session_pk or
    external_userid, keep their order; inline mode, the embedded default, runs them one
    after another), and N answers cost one write transaction instead of 2N, which is
    what SQLite's single writer lock (and MySQL's commit flush) can afford at thousands per minute. The
    attempt is counted up front for the batch, as deliver_outbox counts its own. A row whose effect fails
    for good is dead-lettered as deliver_outbox's would be; one that fails otherwise, or whose write fails,
    is handed to its queue and gets the job's usual retries.

    WeCom's rate limit stops the batch: after the first refusal (45009, 45033) of an effect for a corp, or
    while an earlier one's block lasts (jobs/rate_limits.py), the batch's other rows of that effect are not
    called, nor the rest of a refused row's lane (one customer's effects stay in order). They wait for the
    block's end in one `deliver_batch` per queue, their attempt not counted: WeCom counts refused calls
    too, so each call into the block would only make it last.

    `between`: run after the calls and before the writes (a batch job serving waiting welcomes). `counted`:
    the caller counted this attempt in the transaction that planned the rows (`count_here`).
    """
    runtime = current()
    loaded = _pending(runtime, [outbox_id for outbox_id, _ in rows])
    if not loaded:
        return
    blocked = rate_limits.waits(runtime, [(corp_id, name) for name, corp_id, _ in loaded.values()])
    # A batch of welcomes (hand_on's urgent rows): its writes pass SQLite's writer gate first.
    writer = runtime.FirstWriteSession if all(queue == URGENT for _, queue in rows) else runtime.WriteSession
    if not counted:
        with writer.begin() as s:
            s.execute(update(Outbox).where(Outbox.id.in_(loaded), Outbox.status == OutboxStatus.pending.value)
                      .values(attempts=Outbox.attempts + 1).execution_options(synchronize_session=False))
    writes: list[tuple[int, Write]] = []
    retry: list[tuple[int, str]] = []
    later: dict[float, list[tuple[int, str, bool]]] = {}  # wait → (id, queue, attempt to take back)
    clients: dict[int, WeComClient] = {}

    def run_lane(lane: list[tuple[int, str]]) -> None:
        for step, (outbox_id, queue) in enumerate(lane):
            name, corp_id, args = loaded[outbox_id]
            wait = blocked.get((corp_id, name))
            if wait is not None:  # blocked: this row and the rest of its customer's wait, uncalled
                later.setdefault(math.ceil(wait), []).extend((i, q, True) for i, q in lane[step:])
                return
            try:
                EFFECTS[name](_context(runtime, corp_id, outbox_id, args, writes, clients), **args)
            except Exception as exc:  # noqa: BLE001 - dead-lettered or retried, as deliver_outbox's would be
                if isinstance(exc, FinalError) or isinstance(exc, WeComError) and not exc.retryable:
                    dead_letter("deliver_outbox", [outbox_id], exc, attempts=1, queue=queue)
                elif isinstance(exc, WeComError) and exc.retry_after is not None:
                    blocked[(corp_id, name)] = exc.retry_after
                    rate_limits.remember(runtime, (corp_id, name), exc.retry_after)
                    later.setdefault(math.ceil(exc.retry_after), []).extend(
                        [(outbox_id, queue, False), *((i, q, True) for i, q in lane[step + 1:])])
                    return
                else:
                    log.info("outbox %s (%s) handed to its queue: %s", outbox_id, name, type(exc).__name__)
                    retry.append((outbox_id, queue))

    lanes: dict[Any, list[tuple[int, str]]] = {}
    for outbox_id, queue in rows:
        if outbox_id in loaded:
            # One customer's effects (one kf session's, one external contact's) in one lane, in order.
            args = loaded[outbox_id][2]
            lane = args.get("session_pk") or args.get("external_userid") or outbox_id
            lanes.setdefault(lane, []).append((outbox_id, queue))
    if len(lanes) > 1 and runtime.redis is not None:
        calls = [_lane_pool().submit(run_lane, lane) for lane in lanes.values()]
        while between is not None and first_done(calls, timeout=BETWEEN_EVERY).not_done:
            between()
        for call in calls:
            call.result()
    else:
        for lane in lanes.values():
            run_lane(lane)
    if between is not None:
        between()
    retry += _settle_all(runtime, writes, dict(rows), loaded, writer, between)
    enqueue_outbox(retry)
    for wait, deferred in later.items():
        _defer(runtime, deferred, wait)


def _defer(runtime: Runtime, rows: list[tuple[int, str, bool]], wait: float) -> None:
    """Rows (id, queue, refund) that WeCom's rate limit keeps waiting: due in `wait` s (the sweeper waits
    for that), the attempt counted for those with `refund` (never called) taken back, and on RQ one
    `deliver_batch` per queue scheduled for then. Without Redis the sweeper takes them when they are due."""
    ids = [outbox_id for outbox_id, _, _ in rows]
    uncalled = [outbox_id for outbox_id, _, refund in rows if refund]
    with runtime.WriteSession.begin() as s:
        s.execute(update(Outbox).where(Outbox.id.in_(ids), Outbox.status == OutboxStatus.pending.value)
                  .values(next_attempt_at=utcnow() + dt.timedelta(seconds=wait))
                  .execution_options(synchronize_session=False))
        if uncalled:
            s.execute(update(Outbox).where(Outbox.id.in_(uncalled), Outbox.attempts > 0)
                      .values(attempts=Outbox.attempts - 1).execution_options(synchronize_session=False))
    if runtime.redis is None:
        return
    by_queue: dict[str, list[int]] = {}
    for outbox_id, queue, _ in rows:
        by_queue.setdefault(queue, []).append(outbox_id)
    for queue, queued in by_queue.items():
        enqueue("deliver_batch", queue, queued, queue=queue, delay=wait)


LANES = 8
"""Threads a worker sends one batch's WeCom calls on: the calls wait on the network, not the CPU."""
BATCH_ROWS = 20
"""Rows one deliver_batch job takes at most: a chunk of events' effects of one queue (INBOX_CHUNK events),
so the batch's fixed costs (its job, its reads of the rows, the customers and their tags) are paid once
per chunk. A welcome waiting meanwhile is served between the calls and the writes (`deliver_here`)."""
BETWEEN_EVERY = 0.005
"""Seconds between two looks for waiting welcomes while a batch's calls are out (`deliver_here`'s `between`)."""
_pool: ThreadPoolExecutor | None = None


def _lane_pool() -> ThreadPoolExecutor:
    """Made on first use, so a process that forks (gunicorn, RQ's forking worker) makes its own."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(2 * LANES, thread_name_prefix="outbox-lane")
    return _pool


def runs_here(row: Outbox) -> bool:
    """Whether `hand_on` runs the row in the job that planned it (a customer is waiting on it)."""
    return row.queue == URGENT and row.job not in OWN_JOB


def count_here(rows: list[Outbox], batched: bool = False) -> None:
    """In the transaction that plans `rows`: count the attempt of those `hand_on` will run right after its
    commit and, with `batched`, of those it hands to `deliver_batch` jobs, so that their delivery needs no
    write transaction of its own before the call (on SQLite one more wait for the write lock, on a
    welcome's way (bench_contact) and in every batch (a tenth of a batch's time in the processing bench)).
    A worker or job lost between the commit and the call leaves the row pending with one attempt counted
    that made no call; the sweeper's run counts its own. The count is what the admin sees
    (`attempts`), never what decides a retry (RQ's retries do)."""
    for row in rows:
        if batched or runs_here(row):
            row.attempts = (row.attempts or 0) + 1


def hand_on(rows: list[Outbox], batched: bool = False, counted: bool = False) -> None:
    """After a job's commit, the outbox rows it planned: those a customer is waiting on run here and now
    unless their effect wants a job of its own; the rest go to their queues, one job each or, with
    `batched`, `deliver_batch` jobs of up to BATCH_ROWS per queue. `batched` is for a job that committed a
    chunk of events (process_inbox): their effects then cost one RQ job and one batch (`deliver_here`: two write
    transactions) instead of a job and two transactions each. Not run by the chunk's job itself: a worker
    inside a job does not look at its queues, and a welcome waiting behind a chunk's WeCom calls missed
    its 20 s budget's p99 target (bench_contact: 0.3 s instead of 0.12 s). `counted`: the planning
    transaction counted the attempt of the rows run here and, with `batched`, of the batched ones
    (`count_here(rows, batched)`)."""
    here = [r for r in rows if runs_here(r)]
    deliver_here([(r.id, r.queue) for r in here], counted=counted)
    later = [(r.id, r.queue) for r in rows if r not in here]
    if not batched:
        enqueue_outbox(later)
        return
    by_queue: dict[str, list[int]] = {}
    for outbox_id, queue in later:
        by_queue.setdefault(queue, []).append(outbox_id)
    for queue, ids in by_queue.items():
        for start in range(0, len(ids), BATCH_ROWS):
            enqueue("deliver_batch", queue, ids[start:start + BATCH_ROWS], counted, queue=queue)


@job("deliver_batch", queue="outbound")
def deliver_batch(queue: str, outbox_ids: list[int], counted: bool = False) -> str:
    """A chunk of events' effects on one queue, delivered as one batch (`deliver_here`, which hands a row
    that fails to a deliver_outbox job of its own). A batch lost with its worker leaves its rows pending,
    for the sweeper. `counted`: the chunk's transaction counted this attempt (`count_here`); a batch that
    waited out a rate limit (`_defer`, which took the uncalled rows' count back) counts its own."""
    from jobs.events import serve_urgent  # the events module hands its effects on through this one

    deliver_here([(outbox_id, queue) for outbox_id in outbox_ids], between=serve_urgent, counted=counted)
    return f"{len(outbox_ids)} delivered"


def _settle_all(runtime: Runtime, writes: list[tuple[int, Write]], queues: dict[int, str],
                loaded: dict[int, tuple[str, str, dict[str, Any]]], writer: sessionmaker,
                between: Callable[[], None] | None = None) -> list[tuple[int, str]]:
    """Apply the batch's writes, SETTLE_ROWS to a transaction on SQLite (all in one on MySQL), what they
    read loaded first by their effects' PREPARERS (`loaded`: the rows' effect, corp and args), `between`
    run between two transactions; if a transaction fails, its rows and the rest each in its own, so one bad
    write keeps only its own row pending. Returns the rows left pending, with their queues."""
    step = SETTLE_ROWS if runtime.single_writer else len(writes) or 1
    for start in range(0, len(writes), step):
        if start and between is not None:
            between()
        part = writes[start:start + step]
        try:
            with writer.begin() as s:
                _settle_part(s, part, loaded)
        except Exception:  # noqa: BLE001 - retried row by row below
            log.exception("batched outbox writes failed; settling %d rows one by one", len(writes) - start)
            return _settle_each(writer, writes[start:], queues)
    return []


SETTLE_ROWS = LANES
"""Effects' writes one transaction applies at most on SQLite: it holds the one write lock, and a callback's
insert or a welcome waits for it (20 profile syncs held it up to 0.13 s in bench_contact; 8 about 15 ms).
MySQL/MariaDB lock rows, and one transaction costs fewer reads and commits than three."""


def _settle_part(s: Session, writes: list[tuple[int, Write]],
                 loaded: dict[int, tuple[str, str, dict[str, Any]]]) -> None:
    """In the caller's transaction: lock the rows, load what their writes read (PREPARERS), apply them."""
    locked = {r.id: r for r in s.scalars(select(Outbox).where(Outbox.id.in_([i for i, _ in writes]))
                                         .order_by(Outbox.id).with_for_update())}
    open_memo(s)
    try:
        by_effect: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for outbox_id, _ in writes:
            name, corp_id, args = loaded[outbox_id]
            by_effect.setdefault(name, []).append((corp_id, args))
        for name, effect_rows in by_effect.items():
            if name in PREPARERS:
                PREPARERS[name](s, effect_rows)
        for outbox_id, write in writes:
            _complete(s, locked.get(outbox_id), write)
        insert_later(s)
    finally:
        close_memo(s)


def _settle_each(writer: sessionmaker, writes: list[tuple[int, Write]],
                 queues: dict[int, str]) -> list[tuple[int, str]]:
    """Each write in a transaction of its own; the rows whose write failed, with their queues."""
    left = []
    for outbox_id, write in writes:
        try:
            with writer.begin() as s:
                settle(s, outbox_id, write)
        except Exception:  # noqa: BLE001 - the row stays pending and goes to its queue
            log.exception("outbox %s: write after its WeCom call failed", outbox_id)
            left.append((outbox_id, queues[outbox_id]))
    return left


@on_dead("deliver_outbox")
def _mark_failed(args: list[Any], error: str) -> None:
    """The row failed, and so did the job run it does, if any (a sync the admin is watching)."""
    with current().WriteSession.begin() as s:
        row = s.get(Outbox, args[0])
        job_id = (row.args or {}).get("job_id") if row is not None else None
        if row is not None and row.status == OutboxStatus.pending.value:
            row.status = OutboxStatus.failed.value
            row.error = error
    fail_run(job_id, error)


@on_replay("deliver_outbox")
def _make_pending(args: list[Any]) -> None:
    """A replayed effect must run again: a failed row goes back to pending (a done one stays done)."""
    with current().WriteSession.begin() as s:
        row = s.get(Outbox, args[0])
        if row is not None and row.status == OutboxStatus.failed.value:
            row.status = OutboxStatus.pending.value


@on_reschedule("deliver_outbox")
def _note_due(args: list[Any], when: dt.datetime) -> None:
    """Record when the effect runs again, so the sweeper waits for that and only then steps in."""
    with current().WriteSession.begin() as s:
        s.execute(update(Outbox).where(Outbox.id == args[0], Outbox.status == OutboxStatus.pending.value)
                  .values(next_attempt_at=when).execution_options(synchronize_session=False))


@effect("sync_customer", prepare=load_synced)
def sync_customer(ctx: EffectContext, external_userid: str) -> dict[str, Any] | None:
    """Fetch the customer (externalcontact/get) and upsert it with its follow relations; staff members
    the service has not seen yet are fetched with user/get so lists can show their names."""
    payload = ctx.client.get_external_contact(external_userid)
    users = []
    for userid in _unknown_staff(ctx, {f["userid"] for f in payload.get("follow_user", [])}):
        try:
            users.append(ctx.client.get_user(userid))
        except WeComError as exc:
            if exc.retryable:
                raise
            log.info("user/get skipped for one follower: errcode %s", exc.errcode)

    def write(s: Session) -> dict[str, Any]:
        customer = apply_external_contact(s, ctx.corp_id, payload)
        on_write(s, ctx.corp_id, "customer", [customer.id])  # gender, source, channel, followers may have changed
        for user in users:
            apply_user(s, ctx.corp_id, user)
        return {"customer_id": customer.id, "followers": len(customer.follows)}

    return ctx.finish(write)


def _unknown_staff(ctx: EffectContext, userids: set[str]) -> set[str]:
    """The members among `userids` the service has no staff row for. A userid found once is remembered by
    the process (`Runtime.known_staff`: staff rows are never deleted), so a batch of customers following
    the same members asks the database about each member once, not once per customer."""
    known = ctx.runtime.known_staff.setdefault(ctx.corp_id, set())
    ask = sorted(userids - known)
    if ask:
        with ctx.runtime.Session() as s:
            known.update(s.scalars(select(Staff.userid).where(Staff.corp_id == ctx.corp_id, Staff.userid.in_(ask))))
    return userids - known
