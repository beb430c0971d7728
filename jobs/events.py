"""process_event: one inbox row through the handler registry, once.

The row is reloaded by id (RQ pickles only the id), locked (FOR UPDATE on MySQL; SQLite's writer session
holds the write lock), skipped if already processed, dispatched, and marked in the same transaction as
the handlers' writes. The outbox rows the handlers wrote are enqueued only after that commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from handlers import HandlerContext, dispatch
from jobs.queue import enqueue, enqueue_outbox, job, on_dead, on_replay
from jobs.runtime import current
from models import Inbox, InboxStatus
from models.db import utcnow
from wecom import events


@job("process_event", queue="events")
def process_event(inbox_id: int) -> str:
    runtime = current()
    with runtime.WriteSession.begin() as s:
        row = s.scalar(select(Inbox).where(Inbox.id == inbox_id).with_for_update())
        if row is None:
            return "missing"
        if row.status == InboxStatus.processed.value:
            return "already processed"
        row.attempts += 1
        event = events.parse(row.raw_xml)
        ctx = HandlerContext(session=s, corp_id=row.corp_id, app_pk=row.app_pk, inbox_id=row.id)
        handled = dispatch(ctx, event)
        row.status = (InboxStatus.processed if handled else InboxStatus.unhandled).value
        row.error = None
        row.processed_at = utcnow()
        pending = [(o.id, o.queue) for o in ctx.pending_outbox]
    enqueue_outbox(pending)
    return row.status


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
