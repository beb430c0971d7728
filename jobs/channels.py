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
from jobs.outbound import EffectContext, effect
from jobs.queue import enqueue, job
from jobs.runtime import current
from models import ChannelCode, Corp, Outbox, OutboxStatus, Staff
from models.db import utcnow

WORKDAY_START, WORKDAY_END = 9 * 60, 18 * 60


def skip_verify(policy: str, now_local: dt.datetime) -> bool:
    """WeCom's skip_verify for the acceptance policy. 'Auto in working hours' uses Mon–Fri 09:00–18:00 in
    the corp's zone until the working-hours calendar (manual 10.2) exists; the code is re-evaluated
    whenever it is rewritten."""
    if policy == "manual":
        return False
    if policy == "auto_in_working_hours":
        minute = now_local.hour * 60 + now_local.minute
        return now_local.weekday() < 5 and WORKDAY_START <= minute < WORKDAY_END
    return True


def _code(ctx: EffectContext, code_id: int) -> tuple[ChannelCode, ZoneInfo]:
    with ctx.runtime.Session() as s:
        code = s.get(ChannelCode, code_id)
        tz = s.scalar(select(Corp.timezone).where(Corp.corp_id == ctx.corp_id)) or "Asia/Shanghai"
        s.expunge(code)
    return code, ZoneInfo(tz)


@effect("create_contact_way")
def create_contact_way(ctx: EffectContext, code_id: int) -> dict[str, Any] | None:
    code, zone = _code(ctx, code_id)
    if code.deleted_at is not None:  # deleted before WeCom ever had it: nothing to create
        return ctx.finish(lambda s: {"config_id": None})
    answer = ctx.client.post("externalcontact/add_contact_way", data={
        "type": 1 if code.kind == "single" else 2, "scene": 2, "remark": code.remark, "state": code.state,
        "skip_verify": skip_verify(code.accept_policy, dt.datetime.now(zone)), "user": list(code.current_users),
    })

    def write(s: Session) -> dict[str, Any]:
        row = s.get(ChannelCode, code_id)
        row.config_id, row.qr_code = answer["config_id"], answer.get("qr_code", "")
        return {"config_id": row.config_id}

    return ctx.finish(write)


@effect("update_contact_way")
def update_contact_way(ctx: EffectContext, code_id: int) -> dict[str, Any] | None:
    """Send the code's member list as it is now, not as it was when the rotation was queued: a delayed
    retry then never overwrites a newer rotation, and under a backlog a run of rotations collapses into
    the last one (one call per add would otherwise queue behind the adds themselves)."""
    code, zone = _code(ctx, code_id)
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
        "skip_verify": skip_verify(code.accept_policy, dt.datetime.now(zone)),
    })
    return ctx.finish(lambda s: {"user": list(code.current_users)})


@effect("delete_contact_way")
def delete_contact_way(ctx: EffectContext, code_id: int) -> dict[str, Any] | None:
    code, _ = _code(ctx, code_id)
    if code.config_id:
        ctx.client.post("externalcontact/del_contact_way", data={"config_id": code.config_id})
    return ctx.finish(lambda s: {"deleted": code.config_id})


@job("reroute_codes", queue="maintenance")
def reroute_codes_job() -> int:
    """Codes routed to their backups (members at the daily limit, or gone), abnormal, or pointing at someone
    no longer active are routed again: at the corp's midnight the limits start over, and a full directory
    sync resigns staff without the change_contact events that re-route at once. Run by `rq cron jobs.cron`;
    returns how many codes were rewritten."""
    runtime = current()
    with runtime.WriteSession.begin() as s:
        rows = []
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        inactive = set(s.execute(select(Staff.corp_id, Staff.userid).where(Staff.status != "active")).all())
        for code in s.scalars(select(ChannelCode).where(ChannelCode.deleted_at.is_(None))):
            members = {m.userid for m in code.members if not m.is_backup}
            if code.status == "normal" and set(code.current_users) <= members \
                    and not any((code.corp_id, u) in inactive for u in code.current_users):
                continue
            ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
            row = rotate(ctx, code, utcnow().astimezone(corp_zone(s, code.corp_id)).date(), reason=f"tick:{stamp}")
            if row is not None:
                rows.append((row.id, row.queue))
    for outbox_id, queue in rows:
        enqueue("deliver_outbox", outbox_id, job_id=f"outbox-{outbox_id}", queue=queue)
    return len(rows)
