"""The channel-code side of an add: which code the State names, its daily count, its tags, its rotation; and
re-routing a code when one of its members leaves or comes back.

Rotation is derived from facts, not from a cursor moved once per call, so a replayed or duplicated event
changes nothing: after an add, round-robin continues with the member after the one who got the customer;
after a directory change the current member keeps the code while still available.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import handlers.directory  # noqa: F401  (registered first: staff_changed reads the status its handlers write)
from handlers.registry import HandlerContext, on
from models import ChannelCode, ChannelDailyStat, ChannelMember, Corp, FollowRelation, Outbox, Staff, Tag
from models.chunk import memo
from models.db import get_or_create, utcnow
from rules.channels import assign
from wecom.events import ContactChangeEvent


def corp_zone(session: Session, corp_id: str) -> ZoneInfo:
    """The corp's time zone: daily limits and time-of-day welcomes speak of its local day."""
    return memo(session, ("corp_zone", corp_id), lambda: ZoneInfo(
        session.scalar(select(Corp.timezone).where(Corp.corp_id == corp_id)) or "Asia/Shanghai"))


def code_for_state(ctx: HandlerContext, state: str) -> ChannelCode | None:
    """The live code whose State this is (read once per chunk: handlers never create or delete codes)."""
    if not state:
        return None
    live = select(ChannelCode).where(ChannelCode.corp_id == ctx.corp_id, ChannelCode.state == state,
                                     ChannelCode.deleted_at.is_(None))
    return memo(ctx.session, ("code_for_state", ctx.corp_id, state), lambda: ctx.session.scalar(live))


def count_add(ctx: HandlerContext, code: ChannelCode, follow: FollowRelation, at: dt.datetime) -> None:
    """Count a new add through `code` (the caller knows it is new), queue the code's tags, move the rotation."""
    follow.channel_code_id = code.id
    day = at.astimezone(corp_zone(ctx.session, ctx.corp_id)).date()
    stat, _ = get_or_create(ctx.session, ChannelDailyStat, {"code_id": code.id, "day": day, "userid": follow.userid})
    stat.adds += 1
    # Tags deleted since the code was made are left out: mark_tag would refuse the whole call for one of them.
    live = set(ctx.session.scalars(select(Tag.tag_id).where(
        Tag.corp_id == ctx.corp_id, Tag.tag_id.in_(code.tag_ids), Tag.deleted_at.is_(None)))) if code.tag_ids else set()
    tag_ids = [t for t in code.tag_ids if t in live]
    if tag_ids:
        ctx.outbox("mark_tag", {"app_pk": code.app_pk, "userid": follow.userid,
                                "external_userid": follow.customer.external_userid, "add": tag_ids,
                                "remove": [], "actor": f"channel:{code.id}"},
                   key=f"code_tags:{code.id}:{follow.id}")
    rotate(ctx, code, day, reason=f"inbox:{ctx.inbox_id}", after=follow.userid)


def rotate(ctx: HandlerContext, code: ChannelCode, day: dt.date, reason: str,
           after: str | None = None) -> Outbox | None:
    """Point the code at whoever should get the next customer, and rewrite it in WeCom when that changed.

    `after` is the member who just got a customer (round-robin goes on with the next one); without it
    (a directory change, a new code) the current member keeps the code while available. Returns the
    update_contact_way outbox row when WeCom's copy must change.
    """
    ctx.session.flush()
    members = [m.userid for m in code.members if not m.is_backup]
    backups = [m.userid for m in code.members if m.is_backup]
    anchor = after or (code.current_users[0] if code.current_users else None)
    start = code.next_index
    if anchor in members:
        start = members.index(anchor) + (1 if after else 0)
    adds = dict(ctx.session.execute(select(ChannelDailyStat.userid, ChannelDailyStat.adds).where(
        ChannelDailyStat.code_id == code.id, ChannelDailyStat.day == day)).all())
    people = members + backups
    statuses = dict(ctx.session.execute(select(Staff.userid, Staff.status).where(
        Staff.corp_id == ctx.corp_id, Staff.userid.in_(people))).all())
    # Staff the directory has not synced yet count as active: WeCom accepted them when the code was made.
    active = {u for u in people if statuses.get(u, "active") == "active"}
    result = assign(members, backups, code.assign_mode, start % len(members) if members else 0,
                    code.daily_limit, adds, active)
    code.next_index = result.next_index
    code.status = "abnormal" if result.abnormal else "normal"
    users = list(result.users)[:1] if code.kind == "single" else list(result.users)  # WeCom type 1: one user
    if users and users != list(code.current_users):
        code.current_users = users
        if code.config_id:
            return ctx.outbox("update_contact_way", {"app_pk": code.app_pk, "code_id": code.id},
                              key=f"rotate:{code.id}:{reason}")
    return None


@on("change_contact/delete_user", "change_contact/update_user")
def staff_changed(ctx: HandlerContext, event: ContactChangeEvent) -> None:
    """A member left, was disabled or came back: every code naming them routes again, so a scan does not
    reach someone who cannot accept it (the backups take over; no one left: the code is abnormal)."""
    userid = event.new_user_id or event.user_id
    if not userid:
        return
    codes = ctx.session.scalars(select(ChannelCode).where(
        ChannelCode.corp_id == ctx.corp_id, ChannelCode.deleted_at.is_(None),
        ChannelCode.members.any(ChannelMember.userid.in_({event.user_id, userid}))).order_by(ChannelCode.id)).all()
    if userid != event.user_id:  # a new UserID: the codes follow the member (rename_user moves the CRM rows)
        for code in codes:
            for member in code.members:
                if member.userid == event.user_id:
                    member.userid = userid
            code.current_users = [userid if u == event.user_id else u for u in code.current_users]
    day = (event.create_time or utcnow()).astimezone(corp_zone(ctx.session, ctx.corp_id)).date()
    for code in codes:
        rotate(ctx, code, day, reason=f"inbox:{ctx.inbox_id}")
