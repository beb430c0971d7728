"""WeChat customer service jobs: the kf/sync_msg loop, the calls a session makes (welcome, bot answer,
hand-over, end), the admin-side account/servicer/scene calls, and the silence sweep.

A sync pass (`kf_sync`, planned by a callback only while none is pending for the account; see
handlers/kf.py) takes a per-account lock, Redis when configured, else a lease on the account's cursor
row, so two syncs of one account never interleave. Each page is applied and the cursor moved in one
transaction; a restart resumes from the stored cursor, so nothing is lost or repeated (and msgid is
unique besides). Callbacks that come in meanwhile bump the cursor row's `requested`; a pass that sees it
moved plans the next pass. The lock owner is the outbox row, so a re-run of a killed sync takes its own
stale lock over at once instead of waiting for the lease to run out. A page's answers go out from the
pass itself, in turn (`AnswerTurn`), so one customer's answers keep the order of the messages.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handlers.kf import PageApplier, locked_cursor
from handlers.kf_sessions import drain_queue, end_silent_sessions
from handlers.registry import HandlerContext
from jobs.outbound import EffectContext, effect, hand_on, settle
from jobs.queue import URGENT, enqueue_outbox, job
from jobs.runtime import Runtime, current
from models import KfAccount, KfCursor, KfScene, KfServicer, KfSession, Outbox
from models.db import utcnow
from models.kf import RowStatus, ServicerStatus, SessionState
from wecom.client import WeComError

log = logging.getLogger(__name__)

LOCK_LEASE = dt.timedelta(seconds=60)
"""A sync renews its lock after every page; a killed worker's lock frees itself after this."""
TURN_LEASE_MS = 30_000
TURN_WAIT = 5.0
TURN_POLL = 0.002
"""AnswerTurn: how long a turn lives unreleased, how long a pass waits for one, how often it looks."""

SYNC_LIMIT = 1000
TOKEN_EXPIRED = 95007  # sync_msg: the callback's Token is no longer valid (it lives 10 min)

GONE = 95004  # open_kfid does not exist


class _CursorMoved(Exception):
    """The account's cursor changed while this sync applied a page: undo the page and stop."""


class AccountPending(Exception):
    """The account has no open_kfid yet (its kf/account/add has not run): retry later."""


# -- the lock ------------------------------------------------------------------------------------------------

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


class AccountLock:
    """One account's sync lock, owned by an outbox row: in Redis when there is one, else on the cursor row."""

    def __init__(self, runtime: Runtime, corp_id: str, open_kfid: str, owner: str) -> None:
        self.runtime, self.corp_id, self.open_kfid, self.owner = runtime, corp_id, open_kfid, owner
        self.key = f"scrm:kf:sync:{corp_id}:{open_kfid}"
        self.lease_ms = int(LOCK_LEASE.total_seconds() * 1000)

    def acquire(self) -> bool:
        redis = self.runtime.redis
        if redis is not None:
            if redis.set(self.key, self.owner, nx=True, px=self.lease_ms):
                return True
            return bool(redis.eval(_RENEW, 1, self.key, self.owner, self.lease_ms))  # our own stale lock
        now = utcnow()
        with self.runtime.WriteSession.begin() as s:
            taken = s.execute(update(KfCursor).where(
                KfCursor.corp_id == self.corp_id, KfCursor.open_kfid == self.open_kfid,
                KfCursor.locked_by.is_(None) | (KfCursor.locked_until < now) | (KfCursor.locked_by == self.owner))
                .values(locked_by=self.owner, locked_until=now + LOCK_LEASE))
            return taken.rowcount == 1

    def renew(self) -> None:
        redis = self.runtime.redis
        if redis is not None:
            redis.eval(_RENEW, 1, self.key, self.owner, self.lease_ms)
            return
        with self.runtime.WriteSession.begin() as s:
            s.execute(update(KfCursor).where(self._mine()).values(locked_until=utcnow() + LOCK_LEASE))

    def release(self) -> None:
        redis = self.runtime.redis
        if redis is not None:
            redis.eval(_RELEASE, 1, self.key, self.owner)
            return
        with self.runtime.WriteSession.begin() as s:
            s.execute(update(KfCursor).where(self._mine()).values(locked_by=None, locked_until=None))

    def _mine(self) -> Any:
        return (KfCursor.corp_id == self.corp_id) & (KfCursor.open_kfid == self.open_kfid) \
            & (KfCursor.locked_by == self.owner)


class AnswerTurn:
    """Whose turn it is to answer one account's customers, across processes (Redis; without Redis every
    job runs inline, one after another, so the order holds by itself).

    A pass queues the next pass before it answers its last page, so that another worker can sync while
    it answers; without this turn the next pass could send a customer's second answer before the first.
    A pass takes the turn before each page's answers (for the last page: before the transaction that
    may plan the next pass, so the turn is taken before any later pass can exist) and gives it back when
    they are out; a pass that finds the turn taken waits for it. The key expires after TURN_LEASE, and a
    waiter takes the turn anyway after TURN_WAIT (a killed worker's turn, an answer stuck in retries):
    order is then best effort, never a stalled account."""

    def __init__(self, runtime: Runtime, corp_id: str, open_kfid: str, owner: str) -> None:
        self.redis, self.owner = runtime.redis, owner
        self.key = f"scrm:kf:answering:{corp_id}:{open_kfid}"

    def take(self) -> None:
        if self.redis is None:
            return
        deadline = time.monotonic() + TURN_WAIT
        while not self.redis.set(self.key, self.owner, nx=True, px=TURN_LEASE_MS):
            mine = self.redis.get(self.key) == self.owner.encode()  # a re-run of a killed pass
            if mine or time.monotonic() > deadline:
                if not mine:
                    log.warning("kf answers of %s: the previous pass kept its turn; answering anyway", self.key)
                self.redis.set(self.key, self.owner, px=TURN_LEASE_MS)
                return
            time.sleep(TURN_POLL)

    def give_back(self) -> None:
        if self.redis is not None:
            self.redis.eval(_RELEASE, 1, self.key, self.owner)


# -- the sync ------------------------------------------------------------------------------------------------

def _requested(runtime: Runtime, corp_id: str, open_kfid: str) -> int:
    with runtime.Session() as s:
        return s.scalar(select(KfCursor.requested).where(KfCursor.corp_id == corp_id,
                                                         KfCursor.open_kfid == open_kfid)) or 0


@effect("kf_sync", own_job=True)
def kf_sync(ctx: EffectContext, open_kfid: str) -> dict[str, Any] | None:
    """One pass over the account: sync_msg pages from the cursor until has_more is 0. If callbacks came in
    meanwhile, the pass plans the next sync (on the queue, so other accounts get their turn in between)
    in the transaction that marks it done; that transaction holds the cursor row, which a callback's
    handler also takes, so a callback either bumped the count first (and is served by the next pass) or
    finds no sync pending (and plans one itself)."""
    runtime = ctx.runtime
    seen, app_pk = _requested(runtime, ctx.corp_id, open_kfid), ctx.app_pk
    lock = AccountLock(runtime, ctx.corp_id, open_kfid, f"outbox-{ctx.outbox_id}")
    if not lock.acquire():
        log.info("kf sync of %s: another run holds the lock and syncs what this one would", open_kfid)
        return ctx.finish(lambda s: {"pages": 0, "stored": 0, "merged": True})
    turn = AnswerTurn(runtime, ctx.corp_id, open_kfid, f"outbox-{ctx.outbox_id}")
    try:
        totals, last_page = _sync_pages(ctx, app_pk, open_kfid, lock, turn)
    finally:
        lock.release()
    try:  # the next pass is queued first, so another worker can start it while this one answers
        turn.take()
        again: list[tuple[int, str]] = []
        with runtime.WriteSession.begin() as s:
            cursor = locked_cursor(s, ctx.corp_id, open_kfid)
            result = settle(s, ctx.outbox_id, lambda s: totals)
            if result is not None and cursor.requested != seen:
                hctx = HandlerContext(session=s, corp_id=ctx.corp_id, app_pk=app_pk)
                row = hctx.outbox("kf_sync", {"app_pk": app_pk, "open_kfid": open_kfid},
                                  key=f"kf_sync:{ctx.outbox_id}:again", queue=URGENT)
                cursor.sync_outbox_id = row.id
                again.append((row.id, row.queue))
        enqueue_outbox(again)
    finally:
        try:
            hand_on(last_page)
        finally:
            turn.give_back()
    return result


def _sync_pages(ctx: EffectContext, app_pk: int, open_kfid: str, lock: AccountLock,
                turn: AnswerTurn) -> tuple[dict[str, int], list[Outbox]]:
    """Page sync_msg from the stored cursor until has_more is 0, one transaction per page. What a page
    plans for waiting customers (bot answers, hand-overs, welcomes, ends) is run right here, before the
    next page; the rest goes to the queues. Returns how many pages and new messages there were, and the
    last page's committed outbox rows, which the caller hands on once the pass is settled."""
    runtime = ctx.runtime
    totals = {"pages": 0, "stored": 0}
    started = utcnow()
    while True:
        with runtime.Session() as s:
            row = s.scalar(select(KfCursor).where(KfCursor.corp_id == ctx.corp_id, KfCursor.open_kfid == open_kfid))
            cursor, token, deauthorised = row.cursor, row.token, row.deauthorised_at is not None
        if deauthorised:
            log.info("kf sync of %s: the account was taken from this app, not syncing", open_kfid)
            return totals, []
        page = _sync_msg(ctx, open_kfid, cursor, token)
        try:
            with runtime.WriteSession.begin() as s:
                hctx = HandlerContext(session=s, corp_id=ctx.corp_id, app_pk=app_pk)
                stored = PageApplier(hctx, open_kfid, started).apply(list(page.get("msg_list") or []))
                # The cursor row last: on MySQL its lock, which every callback of the account waits for, is
                # then held from here to the commit, not across the whole page.
                row = locked_cursor(s, ctx.corp_id, open_kfid)
                if row.cursor != cursor:
                    raise _CursorMoved
                row.cursor = page.get("next_cursor") or row.cursor
                row.synced_at = utcnow()
                pending = hctx.pending_outbox
        except _CursorMoved:  # a lost lease: another run applied this page already (rolled back here)
            log.warning("kf sync of %s: cursor moved under us, stopping", open_kfid)
            return totals, []
        totals["stored"] += stored
        totals["pages"] += 1
        if not page.get("has_more"):
            return totals, pending
        turn.take()
        try:
            hand_on(pending)
        finally:
            turn.give_back()
        lock.renew()


def _sync_msg(ctx: EffectContext, open_kfid: str, cursor: str, token: str) -> dict[str, Any]:
    """One sync_msg call: with the callback's Token while there is one (such calls are throttled less). A
    Token WeCom calls expired (95007) is dropped and the call made without it: the Token is optional, and
    the messages must not wait in a dead letter for the next callback."""
    data: dict[str, Any] = {"cursor": cursor, "limit": SYNC_LIMIT, "open_kfid": open_kfid}
    if token:
        try:
            return ctx.client.post("kf/sync_msg", data={**data, "token": token})
        except WeComError as exc:
            if exc.errcode != TOKEN_EXPIRED:
                raise
        log.info("kf sync of %s: the callback token expired, syncing without it", open_kfid)
        with ctx.runtime.WriteSession.begin() as s:
            s.execute(update(KfCursor).where(KfCursor.corp_id == ctx.corp_id, KfCursor.open_kfid == open_kfid,
                                             KfCursor.token == token).values(token=""))
    return ctx.client.post("kf/sync_msg", data=data)


# -- admin calls ---------------------------------------------------------------------------------------------

def _account(ctx: EffectContext, account_pk: int) -> KfAccount:
    with ctx.runtime.Session() as s:
        account = s.get(KfAccount, account_pk)
    if account is None:
        raise LookupError(f"kf account {account_pk} is gone")
    return account


def _open_kfid(ctx: EffectContext, account_pk: int) -> str:
    account = _account(ctx, account_pk)
    if not account.open_kfid:
        raise AccountPending(f"kf account {account_pk} is not created in WeCom yet")
    return account.open_kfid


def _refused(exc: WeComError) -> str:
    if exc.retryable:
        raise exc
    return f"errcode {exc.errcode}: {exc.errmsg}"


@effect("kf_account_add")
def kf_account_add(ctx: EffectContext, account_pk: int) -> dict[str, Any] | None:
    account = _account(ctx, account_pk)
    try:
        open_kfid = ctx.client.post("kf/account/add", data={"name": account.name, "media_id": account.media_id})[
            "open_kfid"]
    except WeComError as exc:
        error = _refused(exc)

        def failed(s: Session) -> dict[str, Any]:
            row = s.get(KfAccount, account_pk)
            row.status, row.error = RowStatus.failed.value, error
            return {"error": error}

        return ctx.finish(failed)

    def created(s: Session) -> dict[str, Any]:
        row = s.get(KfAccount, account_pk)
        row.open_kfid, row.status, row.error = open_kfid, RowStatus.active.value, None
        return {"open_kfid": open_kfid}

    return ctx.finish(created)


@effect("kf_account_update")
def kf_account_update(ctx: EffectContext, account_pk: int, changes: dict[str, str]) -> dict[str, Any] | None:
    ctx.client.post("kf/account/update", data={"open_kfid": _open_kfid(ctx, account_pk), **changes})
    return ctx.finish(lambda s: {"updated": sorted(changes)})


@effect("kf_account_del")
def kf_account_del(ctx: EffectContext, open_kfid: str) -> dict[str, Any] | None:
    try:
        ctx.client.post("kf/account/del", data={"open_kfid": open_kfid})
    except WeComError as exc:
        if exc.errcode != GONE:
            raise
    return ctx.finish(lambda s: {"deleted": open_kfid})


@effect("kf_servicers")
def kf_servicers(ctx: EffectContext, account_pk: int, userids: list[str], add: bool) -> dict[str, Any] | None:
    """kf/servicer/add or del; WeCom answers per userid, and each row takes its own answer."""
    open_kfid = _open_kfid(ctx, account_pk)
    path = "kf/servicer/add" if add else "kf/servicer/del"
    results = ctx.client.post(path, data={"open_kfid": open_kfid, "userid_list": userids}).get("result_list", [])
    errors = {r["userid"]: f"errcode {r['errcode']}: {r.get('errmsg', '')}" for r in results if r.get("errcode")}

    def write(s: Session) -> dict[str, Any]:
        rows = s.scalars(select(KfServicer).where(KfServicer.account_pk == account_pk,
                                                  KfServicer.userid.in_(userids))).all()
        for row in rows:
            if not add:
                s.delete(row)
            elif row.userid in errors:
                row.status, row.error = ServicerStatus.failed.value, errors[row.userid]
            else:
                row.status, row.error = ServicerStatus.receiving.value, None
        return {"errors": errors}

    return ctx.finish(write)


@effect("kf_scene_add")
def kf_scene_add(ctx: EffectContext, scene_pk: int) -> dict[str, Any] | None:
    with ctx.runtime.Session() as s:
        scene = s.get(KfScene, scene_pk)
        account_pk, value = scene.account_pk, scene.scene
    open_kfid = _open_kfid(ctx, account_pk)
    try:
        url, error = ctx.client.post("kf/add_contact_way", data={"open_kfid": open_kfid, "scene": value})["url"], None
    except WeComError as exc:
        url, error = "", _refused(exc)

    def write(s: Session) -> dict[str, Any]:
        row = s.get(KfScene, scene_pk)
        row.url, row.error = url, error
        row.status = (RowStatus.failed if error else RowStatus.active).value
        return {"url": url, "error": error}

    return ctx.finish(write)


# -- the silence sweep ---------------------------------------------------------------------------------------

@job("kf_tick", queue="maintenance")
def kf_tick() -> dict[str, int]:
    """Every minute (jobs/cron.py): end (or let lapse) sessions silent for the corp's N minutes (§9.8.2), end
    lapsing sessions once WeCom's 48 h are up, and give queued customers to receptionists who have room again
    (a limit raised, a servicer back at work)."""
    runtime = current()
    with runtime.Session() as s:
        corps = s.scalars(select(KfSession.corp_id).where(KfSession.state != SessionState.ended.value)
                          .distinct()).all()
    ended = 0
    for corp_id in corps:
        with runtime.WriteSession.begin() as s:
            # app_pk is unused by outbox(): every row these plan carries its session's own app
            ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=0)
            ended += end_silent_sessions(ctx, utcnow())
            accounts = s.scalars(select(KfAccount).where(KfAccount.id.in_(
                select(KfSession.account_pk).where(KfSession.corp_id == corp_id,
                                                   KfSession.state == SessionState.queue.value)))).all()
            for account in accounts:
                drain_queue(ctx, account)
            pending = [(o.id, o.queue) for o in ctx.pending_outbox]
        enqueue_outbox(pending)
    return {"ended": ended}
