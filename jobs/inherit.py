"""离职自动分配 (004 §4.4): every day at 10:00 corp time, the previous day's leavers' customers and groups go
to heirs, by the corp's `InheritRule` (models/transfer.py).

Heirs: active members of a department the leaver was in, or of one below it, whose position (职务, the
directory's Staff.position) equals the rule's (any position when the rule names none). `even` gives each
customer to the heir holding fewest customers (counting what this run gave), `round_robin` in turn from the
rule's cursor. When nobody qualifies the rule's fallback member holds them (云客服); each later run hands a
fallback's customers and groups from an automatic hand-over on to heirs of the leaver's departments once some
exist. Each hand-over is an ordinary one (handlers/transfers.py), so the 90-day rule and WeCom's results apply.

`inherit_job` runs every INHERIT_EVERY from `rq cron jobs.cron`; the corp's run of the day is claimed by a
conditional UPDATE of `last_run_day`, so with several workers (or a re-run) only one does it."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from handlers.registry import HandlerContext
from handlers.transfers import awaiting_customers, awaiting_groups, create_transfer
from jobs.queue import enqueue_outbox, job
from jobs.runtime import current
from models import App, Corp, FollowRelation, FollowStatus, Staff
from models.auth import record_audit
from models.db import utcnow
from models.directory import sub_departments
from models.transfer import InheritRule, ItemStatus, Transfer, TransferItem, TransferKind
from rules.calendar import local_midnight

log = logging.getLogger(__name__)

INHERIT_EVERY = dt.timedelta(minutes=5)
RUN_AT = dt.time(10, 0)


def heirs(s: Session, rule: InheritRule, leaver: Staff) -> list[str]:
    """Active members of the leaver's departments and those below, with the rule's position."""
    depts = sub_departments(s, rule.corp_id, {int(d) for d in leaver.department or []})
    rows = select(Staff.userid, Staff.department).where(Staff.corp_id == rule.corp_id, Staff.status == "active",
                                                        Staff.userid.not_in([leaver.userid, rule.fallback_userid]))
    if rule.position:
        rows = rows.where(Staff.position == rule.position)
    return sorted(u for u, member_of in s.execute(rows) if depts & {int(d) for d in member_of or []})


def spread(s: Session, rule: InheritRule, takers: list[str], things: list[str]) -> dict[str, list[str]]:
    """taker → the customers or groups they get, by the rule's spread."""
    out: dict[str, list[str]] = {t: [] for t in takers}
    if rule.spread == "round_robin":
        for n, thing in enumerate(things):
            out[takers[(rule.cursor + n) % len(takers)]].append(thing)
        rule.cursor = (rule.cursor + len(things)) % len(takers)
        return out
    held = Counter(dict(s.execute(select(FollowRelation.userid, func.count()).where(
        FollowRelation.corp_id == rule.corp_id, FollowRelation.userid.in_(takers),
        FollowRelation.status == FollowStatus.active.value).group_by(FollowRelation.userid)).all()))
    for thing in things:
        taker = min(takers, key=lambda t: (held[t], t))
        held[taker] += 1
        out[taker].append(thing)
    return out


def _hand(ctx: HandlerContext, rule: InheritRule, kind: TransferKind, handover: str, takers: list[str],
          customers: list[str], groups: list[str]) -> int:
    """Hand-overs from `handover` to `takers` (spread); returns how many were made."""
    made = 0
    by_customer, by_group = spread(ctx.session, rule, takers, customers), spread(ctx.session, rule, takers, groups)
    for taker in takers:
        if by_customer[taker] or by_group[taker]:
            made_one = create_transfer(ctx, kind, handover, taker, by_customer[taker], by_group[taker],
                                       by="job:inherit", auto=True)
            record_audit(ctx.session, "job:inherit", "transfer.create", f"transfer:{made_one.id}", corp_id=ctx.corp_id,
                         kind=kind.value,
                         handover=handover, takeover=taker, customers=len(by_customer[taker]),
                         groups=len(by_group[taker]))
            made += 1
    return made


def _from_fallback(ctx: HandlerContext, rule: InheritRule) -> int:
    """The fallback's customers and groups from automatic hand-overs, on to heirs where some exist now."""
    s = ctx.session
    rows = s.execute(select(Transfer.handover_userid, TransferItem.external_userid, TransferItem.chat_id)
                     .join(TransferItem).where(Transfer.corp_id == rule.corp_id, Transfer.auto.is_(True),
                                               Transfer.takeover_userid == rule.fallback_userid,
                                               TransferItem.status == ItemStatus.done.value)).all()
    held_customers = set(awaiting_customers(s, rule.corp_id, rule.fallback_userid))
    held_groups = set(awaiting_groups(s, rule.corp_id, rule.fallback_userid))
    by_leaver: dict[str, tuple[list[str], list[str]]] = {}
    for leaver, ext, chat in rows:
        customers, groups = by_leaver.setdefault(leaver, ([], []))
        if ext in held_customers:
            customers.append(ext)
            held_customers.discard(ext)
        elif chat in held_groups:
            groups.append(chat)
            held_groups.discard(chat)
    made = 0
    for leaver_id, (customers, groups) in by_leaver.items():
        leaver = s.scalar(select(Staff).where(Staff.corp_id == rule.corp_id, Staff.userid == leaver_id))
        takers = heirs(s, rule, leaver) if leaver is not None else []
        if takers and (customers or groups):
            made += _hand(ctx, rule, TransferKind.serving, rule.fallback_userid, takers, customers, groups)
    return made


def run_rule(ctx: HandlerContext, rule: InheritRule, day: dt.date, zone: ZoneInfo) -> int:
    """The corp's run for corp-local `day`: `day − 1`'s leavers, then the fallback's holdings."""
    s = ctx.session
    leavers = s.scalars(select(Staff).where(
        Staff.corp_id == rule.corp_id, Staff.status == "resigned",
        Staff.resigned_at >= local_midnight(day - dt.timedelta(days=1), zone),
        Staff.resigned_at < local_midnight(day, zone)).order_by(Staff.resigned_at, Staff.id)).all()
    made = 0
    for leaver in leavers:
        customers = awaiting_customers(s, rule.corp_id, leaver.userid)
        groups = awaiting_groups(s, rule.corp_id, leaver.userid)
        if not customers and not groups:
            continue
        takers = heirs(s, rule, leaver) or ([rule.fallback_userid] if rule.fallback_userid else [])
        if not takers:
            log.info("inherit: nobody qualifies for %s's customers and no fallback is set", leaver.userid)
            continue
        made += _hand(ctx, rule, TransferKind.resigned, leaver.userid, takers, customers, groups)
    if rule.fallback_userid:
        made += _from_fallback(ctx, rule)
    return made


@job("inherit", queue="maintenance")
def inherit_job(now: dt.datetime | None = None) -> int:
    """Each corp whose 10:00 has come today and whose run of today nobody claimed yet; returns hand-overs
    made."""
    runtime = current()
    now = now or utcnow()
    made = 0
    with runtime.Session() as s:
        rules = s.execute(select(InheritRule.id, InheritRule.corp_id, Corp.timezone)
                          .join(Corp, Corp.corp_id == InheritRule.corp_id)
                          .where(InheritRule.enabled.is_(True))).all()
    for rule_id, corp_id, zone_name in rules:
        zone = ZoneInfo(zone_name or "Asia/Shanghai")
        local = now.astimezone(zone)
        if local.time() < RUN_AT:
            continue
        with runtime.WriteSession.begin() as s:
            claimed = s.execute(update(InheritRule).where(
                InheritRule.id == rule_id,
                or_(InheritRule.last_run_day.is_(None), InheritRule.last_run_day < local.date()))
                .values(last_run_day=local.date()).execution_options(synchronize_session=False))
            if not claimed.rowcount:  # type: ignore[attr-defined]  # another worker ran it today
                continue
            rule = s.get(InheritRule, rule_id)
            app_pk = s.scalar(select(func.min(App.id)).join(Corp).where(Corp.corp_id == corp_id))
            if rule is None or app_pk is None:
                continue
            ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)
            made += run_rule(ctx, rule, local.date(), zone)
            s.flush()  # the outbox rows get their ids
            rows = [(r.id, r.queue) for r in ctx.pending_outbox]
        enqueue_outbox(rows)
    return made
