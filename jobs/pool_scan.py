"""The public pool's daily recycle scan (公海 自动回收, 004 §4.8): each corp once per local day, from an
hourly `rq cron jobs.cron` tick, so it runs in the first hour after the corp's midnight.

Exactly once with several workers: the first to insert the corp's `PoolScan` row for the day scans, the
others skip (a claim left unfinished an hour, by a worker that died, is taken over; the moves themselves
re-check that the customer is still followed and due, so a takeover moves nobody twice). Streamed: customers
are walked by id (keyset, on `ix_customers_pool_scan`) a batch at a time, each batch read without a write
lock and then moved in one short write transaction (SQLite has one writer): one UPDATE per reason that
checks the rules again, one INSERT … SELECT of the history; memory holds one batch, whatever the corp's size.

What is due, per pool with 自动 recycling on (each rule optional, N days in local days, rules/pool_days.py):
never followed up since assignment; the follower not a WeCom friend (no active follow relation of theirs);
no follow-up since the last one; no won deal. A customer with a won opportunity is never due. The follower
is warned `warn_days` before by app message, once per customer per due date (the outbox key). Only our
ownership moves: no WeCom call is made (the WeCom friendship stays as it is).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from jobs.queue import enqueue_outbox, job
from jobs.runtime import Runtime, current
from models import (Customer, FollowRelation, FollowStatus, Opportunity, OpportunityStage, Outbox, OutboxStatus,
                    StageOutcome)
from models.auth import record_audit
from models.corp import messaging_app
from models.daily_claim import claim_day
from models.db import UTCDateTime, utcnow
from models.pool import Pool, PoolAction, PoolMove, PoolScan
from rules.pool_days import cutoff, due_day, local_day

log = logging.getLogger(__name__)

SCAN_BATCH = 5000
STALE_SCAN = dt.timedelta(hours=1)
"""A scan's claim left unfinished this long (its worker died) is taken over by a later tick."""
ACTOR = "job:pool_scan"
WARN_MAX_CHARS = 500

BASE = func.coalesce(Customer.assigned_at, Customer.created_at)
"""When the follower got the customer: its assignment, else (never assigned through a pool) its creation."""
FRIEND = exists().where(FollowRelation.customer_id == Customer.id, FollowRelation.userid == Customer.owner_userid,
                        FollowRelation.status == FollowStatus.active.value)
WON = exists().where(Opportunity.customer_id == Customer.id, Opportunity.stage_id == OpportunityStage.id,
                     OpportunityStage.outcome == StageOutcome.won.value)


@dataclass(frozen=True)
class Rule:
    """One recycle rule of a pool: its reason text, its SQL test, and the same test on a fetched row
    (`Row`: base, last follow-up, is a friend) giving the instant its N days count from, or None."""

    reason: str
    days: int
    sql: Callable[[dt.datetime], ColumnElement[bool]]
    start: Callable[[Any], dt.datetime | None]
    reads_friend: bool = False  # the row needs its `friend` column (a subquery per row: only when asked)


def rules_of(pool: Pool) -> list[Rule]:
    """The pool's rules that are on, in the manual's order (the first that matches names the reason)."""
    followed = Customer.last_followed_at
    found: list[Rule] = []
    if pool.never_followed_days:
        found.append(Rule(f"超过{pool.never_followed_days}天从未跟进", pool.never_followed_days,
                          lambda cut: and_(or_(followed.is_(None), followed < BASE), BASE < cut),
                          lambda r: r.base if r.followed is None or r.followed < r.base else None))
    if pool.not_friend_days:
        found.append(Rule(f"超过{pool.not_friend_days}天未加企微好友", pool.not_friend_days,
                          lambda cut: and_(BASE < cut, ~FRIEND), lambda r: None if r.friend else r.base, True))
    if pool.idle_days:
        found.append(Rule(f"距上次跟进超过{pool.idle_days}天未再跟进", pool.idle_days,
                          lambda cut: and_(followed >= BASE, followed < cut),
                          lambda r: r.followed if r.followed is not None and r.followed >= r.base else None))
    if pool.no_deal_days:
        found.append(Rule(f"超过{pool.no_deal_days}天未成交", pool.no_deal_days,
                          lambda cut: BASE < cut, lambda r: r.base))
    return found


def _due(rules: list[Rule], day: dt.date, zone: ZoneInfo) -> ColumnElement[bool]:
    return or_(*(rule.sql(cutoff(day, rule.days, zone)) for rule in rules))


def _first_due(rules: list[Rule], row: Any, zone: ZoneInfo) -> tuple[dt.date, str] | None:
    """(the earliest due day, its rule's reason) of a fetched row."""
    dues = [(due_day(start, rule.days, zone), i, rule.reason) for i, rule in enumerate(rules)
            if (start := rule.start(row)) is not None]
    return min(dues)[0::2] if dues else None  # type: ignore[return-value]


def _walk(runtime: Runtime, pool: Pool, where: ColumnElement[bool], rules: list[Rule],
          each: Callable[[list[Any]], int]) -> int:
    """Call `each(batch)` on the pool's followed customers matching `where` without a won deal, by id: each batch is
    read in a read-only session (no write lock held while the index is walked), and `each` writes in its own
    transaction; the sum of what it returns."""
    friend = FRIEND if any(r.reads_friend for r in rules) else literal(True)
    columns = select(Customer.id, Customer.name, Customer.owner_userid, BASE.label("base"),
                     Customer.last_followed_at.label("followed"), friend.label("friend"))
    last, total = 0, 0
    while True:
        with runtime.Session() as s:
            batch = s.execute(columns.where(Customer.id > last, _eligible(pool.id), where, ~WON)
                              .order_by(Customer.id).limit(SCAN_BATCH)).all()
        if not batch:
            return total
        total += each(batch)
        last = batch[-1].id


def _eligible(pool_id: int) -> ColumnElement[bool]:
    """Followed customers of the pool, not in the recycle bin (the callers add the due test, then "without a
    won deal": the cheap column tests first, the subqueries only for the rows that pass them)."""
    return and_(Customer.pool_id == pool_id, Customer.pooled_at.is_(None), Customer.owner_userid.is_not(None),
                Customer.deleted_at.is_(None))


def recycle_pool(runtime: Runtime, pool: Pool, today: dt.date, zone: ZoneInfo, now: dt.datetime) -> int:
    """Move the pool's customers due by local day `today` into it; how many moved."""
    rules = rules_of(pool)
    if not rules:
        return 0
    cutoffs = [cutoff(today, rule.days, zone) for rule in rules]
    due = _due(rules, today, zone)

    def reason(row: Any) -> str:
        return next(rule.reason for rule, cut in zip(rules, cutoffs, strict=True)
                    if (start := rule.start(row)) is not None and start < cut)

    def move(batch: list[Any]) -> int:
        by_reason: dict[str, list[int]] = {}
        for row in batch:
            by_reason.setdefault(reason(row), []).append(row.id)
        ids = [row.id for row in batch]
        with runtime.WriteSession.begin() as s:
            for why, some in by_reason.items():
                # the UPDATE checks again that each is still followed and due (a claim, a follow-up or a won
                # deal since the read keeps it); pool_left_by first: MariaDB assigns left to right, and it
                # must read the owner before it is cleared
                s.execute(update(Customer).where(Customer.id.in_(some), _eligible(pool.id), due, ~WON)
                          .ordered_values((Customer.pool_left_by, Customer.owner_userid),
                                          (Customer.owner_userid, None), (Customer.pooled_at, now),
                                          (Customer.pool_reason, why))
                          .execution_options(synchronize_session=False))
            # the history of exactly the rows this batch moved (stamped `now`), written by the database
            moved = select(Customer.corp_id, Customer.id, Customer.pool_id, literal(PoolAction.recycled.value),
                           Customer.pool_left_by, literal(ACTOR), Customer.pool_reason,
                           literal(now, UTCDateTime)).where(Customer.id.in_(ids), Customer.pooled_at == now)
            done = int(s.execute(insert(PoolMove).from_select(
                ["corp_id", "customer_id", "pool_id", "action", "userid", "by", "reason", "at"], moved)).rowcount)
            record_audit(s, ACTOR, "pool.recycle", f"pool:{pool.id}", corp_id=pool.corp_id, moved=done, ids=ids)
        return done

    return _walk(runtime, pool, due, rules, move)


def warn_pool(runtime: Runtime, pool: Pool, today: dt.date, zone: ZoneInfo) -> int:
    """Tell each follower whose customer falls due within the pool's `warn_days` (and not by today), once
    per customer and due day; how many warnings were queued."""
    rules = rules_of(pool)
    if not rules or not pool.warn_days:
        return 0
    with runtime.Session() as s:
        app = messaging_app(s, pool.corp_id)
    if app is None:
        log.warning("pool %s: no app of corp %s can send app messages; recycle warnings skipped", pool.id,
                    pool.corp_id)
        return 0
    horizon = today + dt.timedelta(days=pool.warn_days)
    pending: list[tuple[int, str]] = []

    def warn(batch: list[Any]) -> int:
        due = {row.id: (row, *_first_due(rules, row, zone)) for row in batch}  # type: ignore[misc]
        keys = {cid: f"pool_warning:{cid}:{day.isoformat()}" for cid, (_, day, _) in due.items()}
        with runtime.WriteSession.begin() as s:
            return _queue_warnings(s, pool, app, due, keys, pending)

    count = _walk(runtime, pool, and_(_due(rules, horizon, zone), ~_due(rules, today, zone)), rules, warn)
    enqueue_outbox(pending)  # after the commits: a rolled-back batch tells no one
    return count


def _queue_warnings(s: Session, pool: Pool, app: tuple[int, int], due: dict[int, Any], keys: dict[int, str],
                    pending: list[tuple[int, str]]) -> int:
    """An outbox row (notify_admins) per customer in `due` not warned for its due day yet (its key)."""
    sent = set(s.scalars(select(Outbox.key).where(Outbox.key.in_(keys.values()))))
    rows = []
    for cid, (row, day, reason) in due.items():
        if keys[cid] in sent:
            continue
        text = (f"公海回收提醒：客户「{row.name or cid}」将于{day:%m月%d日}因「{reason}」"
                f"回收到公海「{pool.name}」，请及时跟进。")[:WARN_MAX_CHARS]
        rows.append(Outbox(key=keys[cid], corp_id=pool.corp_id, job="notify_admins", queue="outbound",
                           status=OutboxStatus.pending.value,
                           args={"app_pk": app[0], "agent_id": app[1], "userids": [row.owner_userid], "text": text}))
    s.add_all(rows)
    s.flush()
    pending.extend((o.id, o.queue) for o in rows)
    return len(rows)


def scan_corp(corp_id: str, now: dt.datetime | None = None, runtime: Runtime | None = None) -> dict[str, Any] | None:
    """The corp's scan for its local day at `now`: what it moved and warned, or None when another worker
    has (or had) it."""
    runtime = runtime or current()
    # whole seconds: MariaDB's DATETIME keeps no fraction, and a batch finds the rows it moved by this stamp
    now = (now or utcnow()).replace(microsecond=0)
    with runtime.Session() as s:
        zone = corp_zone(s, corp_id)
        pools = list(s.scalars(select(Pool).where(Pool.corp_id == corp_id, Pool.auto_recycle.is_(True))))
        s.expunge_all()
    today = local_day(now, zone)
    claim = claim_day(runtime, PoolScan, corp_id, today, now, STALE_SCAN)
    if claim is None:
        return None
    moved = sum(recycle_pool(runtime, pool, today, zone, now) for pool in pools)
    warned = sum(warn_pool(runtime, pool, today, zone) for pool in pools)
    with runtime.WriteSession.begin() as s:
        s.execute(update(PoolScan).where(PoolScan.id == claim).values(finished_at=utcnow(), moved=moved,
                                                                       warned=warned))
    log.info("pool scan of %s for %s: %d recycled, %d warned", corp_id, today, moved, warned)
    return {"corp_id": corp_id, "day": today.isoformat(), "moved": moved, "warned": warned}


def scan_all(now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every corp with a pool that recycles by itself; the corps another worker scans are left out."""
    runtime = current()
    with runtime.Session() as s:
        corps = list(s.scalars(select(Pool.corp_id).where(Pool.auto_recycle.is_(True)).distinct()))
    return [done for corp_id in corps if (done := scan_corp(corp_id, now, runtime)) is not None]


@job("pool_scan", queue="maintenance")
def pool_scan_job() -> int:
    """The periodic form, hourly from `rq cron jobs.cron`: how many corps it scanned."""
    return len(scan_all())
