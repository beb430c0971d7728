"""The channel-code side of an add: which code the State names, its daily count, its tags, its rotation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from handlers.registry import HandlerContext
from models import ChannelCode, ChannelDailyStat, Corp, FollowRelation, Staff
from models.db import get_or_create
from rules.channels import assign


def corp_zone(ctx: HandlerContext) -> ZoneInfo:
    tz = ctx.session.scalar(select(Corp.timezone).where(Corp.corp_id == ctx.corp_id))
    return ZoneInfo(tz or "Asia/Shanghai")


def code_for_state(ctx: HandlerContext, state: str) -> ChannelCode | None:
    if not state:
        return None
    return ctx.session.scalar(select(ChannelCode).where(
        ChannelCode.corp_id == ctx.corp_id, ChannelCode.state == state, ChannelCode.deleted_at.is_(None)))


def count_add(ctx: HandlerContext, code: ChannelCode, follow: FollowRelation, at: dt.datetime) -> None:
    """Count a first delivery of an add (the caller knows it from the timeline) and move the rotation."""
    follow.channel_code_id = code.id
    day = at.astimezone(corp_zone(ctx)).date()
    stat, _ = get_or_create(ctx.session, ChannelDailyStat, {"code_id": code.id, "day": day, "userid": follow.userid})
    stat.adds += 1
    if code.tag_ids:
        ctx.outbox("mark_tag", {"app_pk": code.app_pk, "userid": follow.userid,
                                "external_userid": follow.customer.external_userid, "add": list(code.tag_ids),
                                "remove": [], "actor": f"channel:{code.id}"},
                   key=f"code_tags:{code.id}:{follow.id}")
    rotate(ctx, code, day, reason=f"inbox:{ctx.inbox_id}")


def rotate(ctx: HandlerContext, code: ChannelCode, day: dt.date, reason: str) -> None:
    """Point the code at whoever should get the next customer; rewrite it in WeCom when that changed."""
    ctx.session.flush()
    members = [m.userid for m in code.members if not m.is_backup]
    backups = [m.userid for m in code.members if m.is_backup]
    adds = dict(ctx.session.execute(select(ChannelDailyStat.userid, ChannelDailyStat.adds).where(
        ChannelDailyStat.code_id == code.id, ChannelDailyStat.day == day)).all())
    active = set(ctx.session.scalars(select(Staff.userid).where(
        Staff.corp_id == ctx.corp_id, Staff.userid.in_(members + backups), Staff.status == "active")))
    # Staff the directory has not synced yet count as active: WeCom accepted them when the code was made.
    active |= {u for u in members + backups
               if ctx.session.scalar(select(Staff.id).where(Staff.corp_id == ctx.corp_id, Staff.userid == u)) is None}
    result = assign(members, backups, code.assign_mode, code.next_index, code.daily_limit, adds, active)
    code.next_index = result.next_index
    code.status = "abnormal" if result.abnormal else "normal"
    users = list(result.users)
    if users and users != list(code.current_users):
        code.current_users = users
        if code.config_id:
            ctx.outbox("update_contact_way", {"app_pk": code.app_pk, "code_id": code.id, "user": users},
                       key=f"rotate:{code.id}:{reason}")
