"""Scheduled staff broadcasts (员工群发 定时发送, manual 9.5): every minute (jobs/cron.py) each broadcast whose
`send_at` has come is sent, exactly once. A row is claimed by a conditional UPDATE (scheduled → pending) in
the transaction that plans its message/send outbox row (keyed `broadcast:<id>`), so two cron runs or two
workers never both send it, and a run that dies before committing leaves it scheduled for the next."""

from __future__ import annotations

from sqlalchemy import select, update

from handlers.moderation import plan_staff_message
from jobs.runtime import current
from models.db import utcnow
from models.moderation import Broadcast, BroadcastStatus

BATCH = 100


def send_due_broadcasts() -> dict[str, int]:
    """Claim and plan every due scheduled broadcast; the outbox rows go after each commit."""
    runtime = current()
    now = utcnow()
    with runtime.Session() as s:
        due = list(s.scalars(select(Broadcast.id).where(Broadcast.status == BroadcastStatus.scheduled.value,
                                                        Broadcast.send_at <= now)
                             .order_by(Broadcast.send_at, Broadcast.id).limit(BATCH)))
    sent = 0
    for broadcast_pk in due:
        with runtime.WriteSession.begin() as s:
            claimed = s.execute(update(Broadcast).where(Broadcast.id == broadcast_pk,
                                                        Broadcast.status == BroadcastStatus.scheduled.value)
                                .values(status=BroadcastStatus.pending.value)).rowcount
            if claimed != 1:
                continue  # another run has it
            row = s.get_one(Broadcast, broadcast_pk)
            plan_staff_message(s, row.corp_id, f"broadcast:{row.id}", row.msgtype, row.body, list(row.userids),
                               list(row.departments), broadcast_pk=row.id)
            sent += 1
    return {"sent": sent}
