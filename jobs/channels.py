"""Channel codes in WeCom: add_contact_way, update_contact_way (rotation, limits), del_contact_way."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.outbound import EffectContext, effect
from models import ChannelCode, Corp

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
def update_contact_way(ctx: EffectContext, code_id: int, user: list[str]) -> dict[str, Any] | None:
    code, zone = _code(ctx, code_id)
    ctx.client.post("externalcontact/update_contact_way", data={
        "config_id": code.config_id, "user": user, "state": code.state, "remark": code.remark,
        "skip_verify": skip_verify(code.accept_policy, dt.datetime.now(zone)),
    })
    return ctx.finish(lambda s: {"user": user})


@effect("delete_contact_way")
def delete_contact_way(ctx: EffectContext, code_id: int) -> dict[str, Any] | None:
    code, _ = _code(ctx, code_id)
    if code.config_id:
        ctx.client.post("externalcontact/del_contact_way", data={"config_id": code.config_id})
    return ctx.finish(lambda s: {"deleted": code.config_id})
