"""The full customer-group sync: externalcontact/groupchat/list (cursor-paged), then groupchat/get with
need_name=1 for every group, each reconciled as an event's refetch is (`handlers.group_store`).

It runs as the outbox effect `sync_groups` with a job run (progress: groups done of groups listed),
requested by `POST /api/v1/groups/sync`, `scrm groups sync` and the cron (`sync_all_groups_job`, every
SYNC_EVERY). status_filter 0 is "所有列表(即不过滤)" (doc 92120), so one pass lists every group whatever
its owner's resignation status, and each group's status is stored from that list.

Groups are fetched BATCH at a time on LANES threads (the next batch while this one is written) and each
batch is written in its own transaction, so
memory stays flat however many groups the corp has and a retry after a failure re-reads, but rewrites
nothing already in step. A group we hold that the list no longer shows is asked about with groupchat/get:
an answer is reconciled like any other (the list only shows owners in the app's visible range); "no such
group" (40050) marks it dismissed at the sync's time with its open stints closed then; any other final
error (listed or not) leaves the group as it is, counted `unreachable` with the errcode in the run's errors.

What the run changed is its result: `groups_changed` (groups whose row or members changed: the X of
"最近更新：…，同步 X 条信息"), `rows_written` and their parts. A re-sync with nothing changed writes no
group, member or customer row (values are compared before they are set).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.group_store import Changes, apply_groups, dismiss
from jobs.groups import GROUP_GONE, get_group
from jobs.outbound import EffectContext, effect
from jobs.progress import open_run, tracked
from jobs.queue import enqueue_outbox
from jobs.runtime import current
from models import App, AppKind, Corp, JobRun, JobState, Outbox, OutboxStatus
from models.db import utcnow
from models.groups import CustomerGroup
from wecom.client import WeComClient, WeComError

log = logging.getLogger(__name__)

LIST_LIMIT = 1000
"""groupchat/list's largest page (limit 1 ~ 1000, doc 92120)."""
BATCH = 100
"""Groups fetched, then written in one transaction."""
LANES = 8
"""groupchat/get calls in flight at once: they wait on the network, not the CPU."""
SYNC_EVERY = 6 * 3600
"""Seconds between scheduled syncs of every corp: events keep groups current, the sync repairs what an
event never told us (a callback WeCom gave up on, a change before the service was set up)."""
KIND = "group_sync"


def request_groups_sync(session: Session, corp_id: str, app_pk: int, requested_by: str) -> Outbox:
    """Write the outbox row asking for a full sync with its job run (`args["job_id"]`), or find the one
    still waiting: a second request while one is pending joins it instead of syncing twice at once. The
    caller enqueues `deliver_outbox` after commit."""
    row = session.scalar(select(Outbox).where(Outbox.corp_id == corp_id, Outbox.job == "sync_groups",
                                              Outbox.status == OutboxStatus.pending.value)
                         .order_by(Outbox.id.desc()).limit(1))
    if row is None:
        run = open_run(session, KIND, corp_id, requested_by)
        row = Outbox(key=f"sync_groups:{corp_id}:{run.id}", corp_id=corp_id, job="sync_groups",
                     args={"app_pk": app_pk, "job_id": run.id}, queue="outbound",
                     status=OutboxStatus.pending.value)
        session.add(row)
        session.flush()
        log.info("group sync of %s requested by %s (outbox %s)", corp_id, requested_by, row.id)
    return row


def list_groups(client: WeComClient) -> dict[str, int]:
    """chat id → status of every group groupchat/list shows, page by page (cursor, LIST_LIMIT)."""
    listed: dict[str, int] = {}
    cursor = ""
    while True:
        body: dict[str, Any] = {"status_filter": 0, "limit": LIST_LIMIT}
        if cursor:
            body["cursor"] = cursor
        page = client.post("externalcontact/groupchat/list", data=body)
        for item in page.get("group_chat_list") or []:
            listed[str(item["chat_id"])] = int(item.get("status") or 0)
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return listed


def _fetch(client: WeComClient, chat_id: str) -> dict[str, Any] | int:
    """groupchat/get: the `group_chat`, or the errcode of a final error (a retryable one raises, and the
    job's retry takes the sync again)."""
    try:
        return get_group(client, chat_id)
    except WeComError as exc:
        if exc.retryable:
            raise
        return int(exc.errcode or 0)


def _batches(pool: ThreadPoolExecutor, client: WeComClient,
             order: list[str]) -> Iterator[dict[str, dict[str, Any] | int]]:
    """chat id → answer, BATCH groups at a time; the next batch is fetched while the caller writes this one."""
    def submit(start: int) -> list[tuple[str, Future[dict[str, Any] | int]]]:
        return [(c, pool.submit(_fetch, client, c)) for c in order[start:start + BATCH]]

    ahead = submit(0)
    for start in range(0, len(order), BATCH):
        current, ahead = ahead, submit(start + BATCH)
        yield {chat_id: future.result() for chat_id, future in current}


LEASE = dt.timedelta(minutes=2)
"""A run whose progress moved this recently is being done by another worker: a second delivery of its row
(the sweeper re-enqueues a row still pending, and a sync keeps its row pending for minutes) leaves it be."""


def _taken(ctx: EffectContext, job_id: int | None) -> bool:
    if job_id is None:
        return False
    with ctx.runtime.Session() as s:
        run = s.get(JobRun, job_id)
    return run is not None and run.state == JobState.running.value and run.updated_at > utcnow() - LEASE


@effect("sync_groups")
def sync_groups(ctx: EffectContext, job_id: int | None = None) -> dict[str, Any] | None:
    if _taken(ctx, job_id):
        log.info("group sync job %s is running on another worker; this delivery leaves it be", job_id)
        return None
    with tracked(job_id) as progress:
        listed = list_groups(ctx.client)
        with ctx.runtime.Session() as s:
            held = set(s.scalars(select(CustomerGroup.chat_id).where(CustomerGroup.corp_id == ctx.corp_id,
                                                                      CustomerGroup.dismissed_at.is_(None))))
        order = list(listed) + sorted(held - set(listed))
        progress.total = len(order)
        progress.flush()
        at = utcnow()
        changes, dismissed, unreachable = Changes(), 0, 0
        with ThreadPoolExecutor(LANES, thread_name_prefix="group-sync") as pool:
            for answers in _batches(pool, ctx.client, order):
                found = [a for a in answers.values() if isinstance(a, dict)]
                gone = [c for c, a in answers.items() if isinstance(a, int) and a in GROUP_GONE]
                for chat_id, errcode in answers.items():
                    if isinstance(errcode, int) and errcode not in GROUP_GONE:
                        unreachable += 1
                        progress.error(f"{chat_id}: groupchat/get errcode {errcode}")
                with ctx.runtime.WriteSession.begin() as s:
                    changes.add(apply_groups(s, ctx.corp_id, found, at,
                                             {d["chat_id"]: listed[d["chat_id"]] for d in found
                                              if d["chat_id"] in listed}))
                    dismissed += _dismiss_gone(s, ctx.corp_id, gone, at, changes)
                progress.advance(len(answers))
        result = {"groups_listed": len(listed), **changes.summary(), "dismissed": dismissed,
                  "unreachable": unreachable}
        progress.result = result
        ctx.finish(lambda s: result)
    return result


def _dismiss_gone(s: Session, corp_id: str, chat_ids: list[str], at: Any, changes: Changes) -> int:
    """Groups groupchat/get says do not exist: dismissed at `at` (the sync's time, when we learnt it)."""
    count = 0
    for group in s.scalars(select(CustomerGroup).where(CustomerGroup.corp_id == corp_id,
                                                       CustomerGroup.chat_id.in_(chat_ids),
                                                       CustomerGroup.dismissed_at.is_(None))) if chat_ids else []:
        changes.closed += dismiss(s, group, at)
        changes.groups.add(group.chat_id)
        changes.group_rows += 1
        count += 1
    return count


def sync_all_groups_job() -> str:
    """The scheduled sync: one per corp, through its contact (客户联系) app, else its self-built app."""
    runtime = current()
    rows = []
    with runtime.WriteSession.begin() as s:
        apps = s.execute(select(App.id, App.kind, Corp.corp_id).join(Corp)
                         .where(App.kind.in_([AppKind.contact.value, AppKind.agent.value]))
                         .order_by(App.id)).all()
        chosen: dict[str, int] = {}
        for app_pk, _kind, corp_id in sorted(apps, key=lambda a: (a.kind != AppKind.contact.value, a.id)):
            chosen.setdefault(corp_id, app_pk)
        for corp_id, app_pk in chosen.items():
            rows.append(request_groups_sync(s, corp_id, app_pk, "cron"))
        pending = [(r.id, r.queue) for r in rows if r.status == OutboxStatus.pending.value]
    enqueue_outbox(pending)
    return f"{len(rows)} corp(s)"
