"""process_event: one inbox row through the handler registry, once; process_inbox: the ids the ingress
pushed onto a Redis list, taken in chunks, each chunk one transaction; process_batch: every waiting row of
a batched kind (kf_msg_or_event) of one corp, by the same per-row steps.

The row is reloaded by id (RQ pickles only the id), locked (FOR UPDATE on MySQL; SQLite's writer session
holds the write lock), skipped if already processed, dispatched, and marked in the same transaction as
the handlers' writes. The outbox rows the handlers wrote are enqueued only after that commit.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers import HandlerContext, dispatch, prepare
from jobs.outbound import count_here, hand_on
from jobs.queue import URGENT, enqueue, job, on_dead, on_replay
from jobs.runtime import current
from models import Inbox, InboxStatus, Outbox
from models.chunk import close_memo, insert_later, open_memo
from models.db import held_gate, utcnow
from wecom import events

log = logging.getLogger(__name__)


@job("process_event", queue="events")
def process_event(inbox_id: int) -> str:
    runtime = current()
    with runtime.WriteSession.begin() as s:
        row = s.scalar(select(Inbox).where(Inbox.id == inbox_id).with_for_update())
        if row is None:
            return "missing"
        if row.status == InboxStatus.processed.value:
            return "already processed"
        pending = _process(s, row)
        count_here(pending)
    hand_on(pending, counted=True)
    return row.status


def _process(s: Session, row: Inbox, event: events.Event | events.InvalidEvent | None = None) -> list[Outbox]:
    """Dispatch one locked inbox row and mark it, in the caller's transaction; the outbox rows it planned.
    `event`: the row's parse, when the caller has done it already (`_parse`)."""
    first_attempt = row.attempts == 0
    row.attempts += 1
    parsed = _parse(row) if event is None else event
    if isinstance(parsed, events.InvalidEvent):  # stored by an older parser, or replayed: marked, never dispatched
        row.status, row.error = InboxStatus.invalid.value, parsed.reason
        return []
    if row.routing_key != parsed.routing_key[:96]:  # an `invalid` row replayed after the parser learned it
        row.routing_key = parsed.routing_key[:96]
    ctx = HandlerContext(session=s, corp_id=row.corp_id, app_pk=row.app_pk, inbox_id=row.id,
                         first_attempt=first_attempt)
    handled = dispatch(ctx, parsed)
    row.status = (InboxStatus.processed if handled else InboxStatus.unhandled).value
    row.error = None
    row.processed_at = utcnow()
    return ctx.pending_outbox


def _parse(row: Inbox) -> events.Event | events.InvalidEvent:
    try:
        return events.parse(row.raw_xml)
    except events.InvalidEvent as exc:
        return exc


BATCH_LIMIT = 200
"""Inbox rows one batch transaction takes at most; a bigger backlog is taken in several."""


def batch_flag(corp_id: str, routing_key: str) -> str:
    """Redis key set while a process_batch job for these callbacks is queued and not yet started."""
    return f"scrm:batch:{corp_id}:{routing_key}"


@job("process_batch", queue="events")
def process_batch(corp_id: str, routing_key: str) -> str:
    """Every stored, unprocessed callback of one kind of one corp, each dispatched as process_event would.
    For callbacks that only say "there is news, go and fetch it" (kf_msg_or_event), so a burst costs one
    job instead of one per callback. The rows are grouped by their event's `batch_group` (the kf account)
    and each group is one transaction, taken in group order: a group's rows touch the same few rows (the
    account's cursor), whose locks are then held briefly and always taken in the same order.

    The ingress stores the row, then enqueues this job only if it sets the batch flag; this job clears the
    flag before it looks for rows. A callback that found the flag set was therefore stored before the
    flag was cleared, and so before this job looks: no row is left behind (and the sweeper would find
    one anyway). Rows another run holds are skipped (SKIP LOCKED), not waited for."""
    runtime = current()
    if runtime.redis is not None:
        runtime.redis.delete(batch_flag(corp_id, routing_key))
    done = after = 0
    while True:
        with runtime.Session() as s:
            found = s.execute(select(Inbox.id, Inbox.raw_xml).where(
                Inbox.status == InboxStatus.received.value, Inbox.corp_id == corp_id,
                Inbox.routing_key == routing_key, Inbox.id > after).order_by(Inbox.id).limit(BATCH_LIMIT)).all()
        groups: dict[str, list[int]] = {}
        for inbox_id, raw_xml in found:
            groups.setdefault(_batch_group(raw_xml), []).append(inbox_id)
            after = inbox_id  # a row handed to its own job stays `received`: the next page starts past it
        for _group, ids in sorted(groups.items()):
            done += _process_group(runtime, ids)
        if len(found) < BATCH_LIMIT:
            return f"{done} processed"


INBOX_CHUNK = {"welcome": 10, "events": 20}
"""Ids one process_inbox job takes from a list at most. Small, because a worker inside a job does not look
at its queues: a welcome message waits for a free worker, and its WelcomeCode dies 20 s after the event
(bench_contact's welcome p99 went from 0.1 s to 12 s with chunks of 100, each delivering its effects)."""
INBOX_FLAG_TTL = 30
"""Seconds an inbox list's flag lives: past it the next push enqueues a process_inbox even if the flagged
one never ran (and the sweeper finds the rows whose ids sit in a list no job empties)."""


def inbox_list(queue: str) -> str:
    """Redis list of inbox ids waiting for process_inbox on `queue` (`welcome` or `events`)."""
    return f"scrm:inbox:{queue}"


def push_inbox(redis: Any, ids: list[int], queue: str) -> None:
    """Hand stored inbox rows to process_inbox on `queue`: one round trip (RPUSH the ids, SET NX the list's
    flag), and an RQ job only when the flag was not set, i.e. once per burst rather than once per callback.
    Raises redis' errors; the rows then stay `received` for the sweeper."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.rpush(inbox_list(queue), *ids)
        pipe.set(_flag(queue), 1, nx=True, ex=INBOX_FLAG_TTL)
        flagged = pipe.execute()[1]
    if flagged:
        enqueue("process_inbox", queue, queue=queue, retry_as="events")


@job("process_inbox", queue="events")
def process_inbox(queue: str) -> str:
    """One chunk of the inbox list of `queue` (up to INBOX_CHUNK ids), in id order in one transaction
    (one customer's events stay in the order they arrived), a chunk that fails row by row
    (`_process_group`); after its commit the chunk's urgent WeCom effects go out from here, the others
    in `deliver_batch` jobs of up to BATCH_ROWS per queue (from either list), a customer's in order, customers in
    parallel (`deliver_here`).

    The flag is cleared first, so an id pushed after this job's pop finds no flag and enqueues a new job.
    A full chunk sets the flag again at once: the rest is a next job, which another worker can take while
    this one works, and which waits behind more urgent queues (a worker draining a long list in one job
    would keep welcome messages waiting). An id popped by a worker that dies is no longer in the list; its
    row stays `received` and the sweeper pushes it again. A row already processed (a duplicate id, a
    retry's own job) is skipped by `_process_rows`."""
    redis = current().redis
    redis.delete(_flag(queue))
    chunk = INBOX_CHUNK.get(queue, 100)
    ids = redis.lpop(inbox_list(queue), chunk) or []
    if len(ids) == chunk and redis.set(_flag(queue), 1, nx=True, ex=INBOX_FLAG_TTL):
        enqueue("process_inbox", queue, queue=queue, retry_as="events")
    done = _process_group(current(), _ids(ids), batched=True, urgent_first=queue != URGENT, first=queue == URGENT)
    return f"{done} processed"


def _ids(popped: list[Any]) -> list[int]:
    return sorted({int(i) for i in popped})


def serve_urgent(runtime: Any = None) -> None:
    """Between the steps of a chunk of other events, or of a batch of their effects (deliver_batch): a chunk
    of the `welcome` list, if any is waiting, taken here and now. A worker inside a job does not look at its
    queues, and a chunk of events with their WeCom calls takes longer than a welcome can wait for the next
    free worker (bench_contact's welcome p99 went from 0.1 s to 0.6 s); one LPOP per step costs less than
    a tenth of a millisecond. The welcome's own process_inbox job then finds those ids gone, as if another
    worker had taken them. `runtime`: default the process' own."""
    runtime = runtime or current()
    ids = runtime.redis.lpop(inbox_list(URGENT), INBOX_CHUNK[URGENT]) if runtime.redis is not None else None
    if ids:
        _process_group(runtime, _ids(ids), batched=True, first=True)


def _flag(queue: str) -> str:
    """Set while a process_inbox job for the list of `queue` is queued and not yet started."""
    return f"{inbox_list(queue)}:flag"


def _batch_group(raw_xml: str) -> str:
    """The row's batch group; "" for a row that does not parse (`_process` marks it invalid)."""
    try:
        return events.parse(raw_xml).batch_group
    except events.InvalidEvent:
        return ""


def _process_group(runtime: Any, ids: list[int], batched: bool = False, urgent_first: bool = False,
                   first: bool = False) -> int:
    """One group's rows in one transaction; the number processed. If that transaction fails, each row is
    taken in a transaction of its own, and one that fails again is handed to its own process_event job
    (with its retries and dead letter): one bad row fails alone instead of holding back the batch.
    `urgent_first`: waiting welcome rows are served between the steps (`serve_urgent`). `first`: welcome
    rows, whose transactions pass SQLite's writer gate first (`Runtime.FirstWriteSession`)."""
    if not ids:
        return 0
    if len(ids) > 1:
        try:
            return _process_rows(runtime, ids, batched, urgent_first, first)
        except Exception:
            log.exception("batch of %d inbox rows failed; taking them one by one", len(ids))
    done = 0
    for inbox_id in ids:
        try:
            done += _process_rows(runtime, [inbox_id], batched, first=first)
        except Exception:
            log.exception("inbox %d failed in its batch; handed to a job of its own", inbox_id)
            enqueue("process_event", inbox_id, job_id=f"inbox-{inbox_id}", retry_as="events")
    return done


TRANSACTION_BUDGET = 0.01
"""Seconds of handler work one batch transaction takes on at most on SQLite: the rows past it go to the
next one. There a transaction holds the one write lock, and a callback's insert waits at most
FIRST_BUSY_TIMEOUT for it before answering 503; a hundred rows in one transaction on a busy machine took
longer than that. The insert's wait is also the welcome's: at 20 ms a chunk held the lock 22.5 ms at p50,
the inserts waited 18 ms at p50 and 38 at p90 under processing, and bench_contact's welcome p99 fell
behind the per-event main's (0cfe7d3); at 10 ms it is level or ahead when both are fed alike, with the
same events/s (the chunk's fixed reads are a small part of it). MySQL/MariaDB lock rows: a chunk is one
transaction (split in three, it read its customers three times, a tenth of a worker's CPU in the ingress
bench).

Within the budget a transaction also ends after the event in hand when a callback's insert waits in
another process for the gate (`WriterGate.callback_waiting`): under a steady feed the insert otherwise
waited out whole 10 ms transactions, and in bench_contact's default mode (a faster drain is fed more
callbacks) the welcome p99 stood at 1.31x 0cfe7d3's from `received_at` and 1.23x from the POST; with the
early end, 1.06x and 0.98x, and 303 events/s in the processing bench (3.45x). Ending it for every writer
that goes first (the workers' welcome chunks and their effects' writes too) ran one event per transaction
there: 115 events/s."""


def _process_rows(runtime: Any, ids: list[int], batched: bool = False, urgent_first: bool = False,
                  first: bool = False) -> int:
    """The rows among `ids` still `received`, dispatched in transactions of TRANSACTION_BUDGET each at most
    on SQLite (one, on MySQL); each one's outbox rows handed on after its commit (`hand_on`; with `batched` in one
    job per queue; with `urgent_first` waiting welcome rows are served before each step).
    Returns how many were processed (not found `invalid`)."""
    done = 0
    while ids:
        if urgent_first:
            serve_urgent(runtime)
        with (runtime.FirstWriteSession if first else runtime.WriteSession).begin() as s:
            rows, taken, pending = process_chunk(s, ids, TRANSACTION_BUDGET if runtime.single_writer else math.inf)
            ids = [row.id for row in rows[taken:]]
            count_here(pending, batched)
        if urgent_first and pending:
            serve_urgent(runtime)
        hand_on(pending, batched, counted=True)
        done += sum(row.status != InboxStatus.invalid.value for row in rows[:taken])
    return done


def process_chunk(s: Session, ids: list[int],
                  budget: float = TRANSACTION_BUDGET) -> tuple[list[Inbox], int, list[Outbox]]:
    """In the caller's transaction: lock the rows among `ids` still `received` and dispatch them in id order
    until `budget` seconds of handler work are spent. Returns the rows found, how many of them were taken,
    and the outbox rows those planned (to hand on after the commit)."""
    # Locked by primary key alone (status is checked after): a locking read through the status index on
    # MySQL would also lock the gap new callbacks are inserted into, and stall the ingress until this commits.
    rows = [row for row in s.scalars(select(Inbox).where(Inbox.id.in_(ids)).order_by(Inbox.id)
                                     .with_for_update(skip_locked=True))
            if row.status == InboxStatus.received.value]
    parsed = [_parse(row) for row in rows]
    # The chunk's customers and the corp's settings are read once for all its events (models/chunk.py).
    open_memo(s)
    try:
        prepare(s, [(row.corp_id, event) for row, event in zip(rows, parsed, strict=True)
                    if not isinstance(event, events.InvalidEvent)])
        deadline = time.monotonic() + budget
        gate = held_gate(s)  # None on MySQL/MariaDB, which lock rows
        pending: list[Outbox] = []
        taken = 0
        for row, event in zip(rows, parsed, strict=True):
            pending += _process(s, row, event)
            taken += 1
            if time.monotonic() > deadline or gate is not None and gate.callback_waiting():
                break
        insert_later(s)
    finally:
        close_memo(s)
    return rows, taken, pending


@on_dead("process_event")
def _mark_failed(args: list[Any], error: str) -> None:
    """Show the failure on the row, unless a later run already processed it."""
    with current().WriteSession.begin() as s:
        row = s.get(Inbox, args[0])
        if row is not None and row.status != InboxStatus.processed.value:
            row.status = InboxStatus.failed.value
            row.error = error


@on_replay("process_event")
def _make_received(args: list[Any]) -> None:
    with current().WriteSession.begin() as s:
        row = s.get(Inbox, args[0])
        if row is not None:
            row.status = InboxStatus.received.value
            row.error = None


def replay_event(inbox_id: int) -> Inbox | None:
    """Process a stored callback again (handlers are idempotent, so a processed row ends the same)."""
    with current().Session() as s:
        row = s.get(Inbox, inbox_id)
    if row is None:
        return None
    _make_received([inbox_id])
    enqueue("process_event", inbox_id, job_id=f"inbox-{inbox_id}")
    return row
