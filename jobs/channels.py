"""Channel codes in WeCom: add_contact_way, update_contact_way (rotation, limits), del_contact_way; and the
periodic re-routing that gives a code back to its members when a new day lifts their daily limits."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.channels import corp_zone, rotate
from handlers.registry import HandlerContext
from handlers.moderation import calendar_for
from jobs.outbound import EffectContext, effect
from jobs.queue import enqueue_outbox, job
from jobs.runtime import current
from models import ChannelCode, Outbox, OutboxStatus, Staff
from models.db import utcnow
from rules import working_hours

REROUTE_EVERY = dt.timedelta(minutes=5)
"""How often `rq cron jobs.cron` runs reroute_codes_job (jobs/cron.py registers it with this interval)."""


def skip_verify(policy: str, calendar: working_hours.Calendar, zone: ZoneInfo, now: dt.datetime) -> bool:
    """WeCom's skip_verify for the acceptance policy: 'auto in working hours' follows the corp's
    working-hours calendar (004 §10.2); reroute_codes_job rewrites such codes when working time starts
    or ends."""
    if policy == "manual":
        return False
    if policy == "auto_in_working_hours":
        return calendar.contains(now, zone)
    return True


def _code(ctx: EffectContext, code_id: int) -> tuple[ChannelCode, bool]:
    """The code, detached, and the skip_verify to send for it now."""
    with ctx.runtime.Session() as s:
        code = s.get(ChannelCode, code_id)
        calendar, zone = calendar_for(s, ctx.corp_id)
        s.expunge(code)
    return code, skip_verify(code.accept_policy, calendar, zone, utcnow())


@effect("create_contact_way")
def create_contact_way(ctx: EffectContext, code_id: int) -> dict[str, Any] | None:
    code, skip = _code(ctx, code_id)
    if code.deleted_at is not None:  # deleted before WeCom ever had it: nothing to create
        return ctx.finish(lambda s: {"config_id": None})
    answer = ctx.client.post("externalcontact/add_contact_way", data={
        "type": 1 if code.kind == "single" else 2, "scene": 2, "remark": code.remark, "state": code.state,
        "skip_verify": skip, "user": list(code.current_users),
    })

    def write(s: Session) -> dict[str, Any]:
        row = s.get_one(ChannelCode, code_id)
        row.config_id, row.qr_code = answer["config_id"], answer.get("qr_code", "")
        return {"config_id": row.config_id}

    return ctx.finish(write)


@effect("update_contact_way")
def update_contact_way(ctx: EffectContext, code_id: int) -> dict[str, Any] | None:
    """Send the code's member list as it is now, not as it was when the rotation was queued: a delayed
    retry then never overwrites a newer rotation, and under a backlog a run of rotations collapses into
    the last one (one call per add would otherwise queue behind the adds themselves)."""
    code, skip = _code(ctx, code_id)
    if code.deleted_at is not None or not code.config_id:
        return ctx.finish(lambda s: {"user": None})
    with ctx.runtime.Session() as s:  # a later rewrite is queued: it sends the same list, or a newer one
        newer = s.scalar(select(Outbox.id).where(
            Outbox.key.like(f"rotate:{code_id}:%"), Outbox.status == OutboxStatus.pending.value,
            Outbox.id > ctx.outbox_id).order_by(Outbox.id).limit(1))
    if newer is not None:
        return ctx.finish(lambda s: {"superseded_by": newer})
    ctx.client.post("externalcontact/update_contact_way", data={
        "config_id": code.config_id, "user": list(code.current_users), "state": code.state, "remark": code.remark,
        "skip_verify": skip,
    })
    return ctx.finish(lambda s: {"user": list(code.current_users)})


@effect("delete_contact_way")
def delete_contact_way(ctx: EffectContext, code_id: int) -> dict[str, Any] | None:
    code, _ = _code(ctx, code_id)
    if code.config_id:
        ctx.client.post("externalcontact/del_contact_way", data={"config_id": code.config_id})
    return ctx.finish(lambda s: {"deleted": code.config_id})


def _hours_turned(s: Session, code: ChannelCode, now: dt.datetime) -> bool:
    """Whether working time started or ended since the previous run, for a code whose acceptance follows it."""
    if code.accept_policy != "auto_in_working_hours" or not code.config_id:
        return False
    calendar, zone = calendar_for(s, code.corp_id)
    return calendar.contains(now, zone) != calendar.contains(now - REROUTE_EVERY, zone)


@job("reroute_codes", queue="maintenance")
def reroute_codes_job() -> int:
    """Codes routed to their backups (members at the daily limit, or gone), abnormal, or pointing at someone
    no longer active are routed again: at the corp's midnight the limits start over, and a full directory
    sync resigns staff without the change_contact events that re-route at once. Codes that accept
    automatically only in working hours are rewritten when working time starts or ends. Run by
    `rq cron jobs.cron` every REROUTE_EVERY; returns how many codes were rewritten."""
    runtime = current()
    with runtime.WriteSession.begin() as s:
        rows = []
        now = utcnow()
        stamp = now.strftime("%Y%m%dT%H%M%S")
        inactive = set(s.execute(select(Staff.corp_id, Staff.userid).where(Staff.status != "active")).all())
        for code in s.scalars(select(ChannelCode).where(ChannelCode.deleted_at.is_(None))):
            if _hours_turned(s, code, now):
                ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
                row = ctx.outbox("update_contact_way", {"app_pk": code.app_pk, "code_id": code.id},
                                 key=f"rotate:{code.id}:hours:{stamp}")
                rows.append((row.id, row.queue))
                continue
            members = {m.userid for m in code.members if not m.is_backup}
            if code.status == "normal" and set(code.current_users) <= members \
                    and not any((code.corp_id, u) in inactive for u in code.current_users):
                continue
            ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
            rotated = rotate(ctx, code, utcnow().astimezone(corp_zone(s, code.corp_id)).date(), reason=f"tick:{stamp}")
            if rotated is not None:
                rows.append((rotated.id, rotated.queue))
    enqueue_outbox(rows)
    return len(rows)
