"""Outbound effects: run an outbox row's WeCom call after the handler's commit, and record the result.

`deliver_outbox` checks the row's status first and again when it records the result, so a job that runs
twice (a retry after a crash, the sweeper, a replay) does not repeat a done effect's writes. Each effect
is a function registered by name with `@effect`. It calls WeCom with no transaction open (an HTTP call
must not hold SQLite's write lock) and hands its DB writes to `ctx.finish`, which runs them in one short
transaction together with marking the outbox row done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.contacts import apply_external_contact, apply_user
from jobs.queue import FinalError, job, on_dead, on_replay
from jobs.runtime import Runtime, current
from models import Outbox, OutboxStatus, Staff
from models.db import utcnow
from wecom.client import WeComClient, WeComError

log = logging.getLogger(__name__)


@dataclass
class EffectContext:
    runtime: Runtime
    client: WeComClient
    corp_id: str
    outbox_id: int

    def finish(self, write: Callable[[Session], dict[str, Any]]) -> dict[str, Any] | None:
        """Apply `write` and mark the row done, atomically; None if another run finished it first."""
        with self.runtime.WriteSession.begin() as s:
            row = s.scalar(select(Outbox).where(Outbox.id == self.outbox_id).with_for_update())
            if row is None or row.status != OutboxStatus.pending.value:
                return None
            row.result = write(s)
            row.status = OutboxStatus.done.value
            row.error = None
            row.done_at = utcnow()
            return row.result


Effect = Callable[..., dict[str, Any] | None]
EFFECTS: dict[str, Effect] = {}


def effect(name: str) -> Callable[[Effect], Effect]:
    def register(fn: Effect) -> Effect:
        EFFECTS[name] = fn
        return fn

    return register


@job("deliver_outbox", queue="outbound")
def deliver_outbox(outbox_id: int) -> str:
    runtime = current()
    with runtime.Session() as s:
        row = s.get(Outbox, outbox_id)
        if row is None or row.status != OutboxStatus.pending.value:
            return "skipped"
        name, corp_id, args = row.job, row.corp_id, dict(row.args)
    fn = EFFECTS.get(name)
    if fn is None:
        raise FinalError(f"no effect named {name!r}")
    with runtime.WriteSession.begin() as s:
        s.get(Outbox, outbox_id).attempts += 1
    ctx = EffectContext(runtime, runtime.client_for_app(int(args.pop("app_pk"))), corp_id, outbox_id)
    try:
        result = fn(ctx, **args)
    except WeComError as exc:
        if not exc.retryable:
            raise FinalError(str(exc)) from None
        raise
    return "done" if result is not None else "skipped"


@on_dead("deliver_outbox")
def _mark_failed(args: list[Any], error: str) -> None:
    with current().WriteSession.begin() as s:
        row = s.get(Outbox, args[0])
        if row is not None and row.status == OutboxStatus.pending.value:
            row.status = OutboxStatus.failed.value
            row.error = error


@on_replay("deliver_outbox")
def _make_pending(args: list[Any]) -> None:
    """A replayed effect must run again: a failed row goes back to pending (a done one stays done)."""
    with current().WriteSession.begin() as s:
        row = s.get(Outbox, args[0])
        if row is not None and row.status == OutboxStatus.failed.value:
            row.status = OutboxStatus.pending.value


@effect("sync_customer")
def sync_customer(ctx: EffectContext, external_userid: str) -> dict[str, Any] | None:
    """Fetch the customer (externalcontact/get) and upsert it with its follow relations; staff members
    the service has not seen yet are fetched with user/get so lists can show their names."""
    payload = ctx.client.get_external_contact(external_userid)
    with ctx.runtime.Session() as s:
        known = set(s.scalars(select(Staff.userid).where(Staff.corp_id == ctx.corp_id)))
    users = []
    for userid in {f["userid"] for f in payload.get("follow_user", [])} - known:
        try:
            users.append(ctx.client.get_user(userid))
        except WeComError as exc:
            if exc.retryable:
                raise
            log.info("user/get skipped for one follower: errcode %s", exc.errcode)

    def write(s: Session) -> dict[str, Any]:
        customer = apply_external_contact(s, ctx.corp_id, payload)
        for user in users:
            apply_user(s, ctx.corp_id, user)
        return {"customer_id": customer.id, "followers": len(customer.follows)}

    return ctx.finish(write)
