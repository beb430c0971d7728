"""The group profile page (群详情, 004 §4.2.3 群画像): `/sidebar/group?chat_id=` for a customer group the
member may see (web/group_scope.py: they own it or are or were in it; any other is the same 404 page as
a group that does not exist). It shows the owner, the size (staff / external), the group tags, the latest
joins and quits, and the 7-day portrait's figures (web/group_stats.py `portrait`), from the same
functions as the admin API's group detail and portrait."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, g, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CustomerGroup, GroupMember, MemberType
from models.db import utcnow
from web.errors import ApiError
from web.group_stats import portrait, zone_of
from web.group_view import group_json, load_extras, the_group
from web.sidebar import session
from web.sidebar.blueprint import bp
from web.sidebar.oauth import message
from web.sidebar_config import layout

RECENT = 10
PORTRAIT_DAYS = 7
SCENES = {"direct_invite": "成员邀请", "invite_link": "邀请链接", "scanned_code": "扫码入群", "unknown": "未知"}


def recent_moves(s: Session, group: CustomerGroup, zone: Any) -> list[dict[str, Any]]:
    """The group's latest RECENT joins and quits, newest first (two indexed queries)."""
    def who(m: GroupMember) -> str:
        return m.group_nickname or m.name or m.member_id

    joins = s.scalars(select(GroupMember).where(GroupMember.group_id == group.id)
                      .order_by(GroupMember.joined_at.desc(), GroupMember.id.desc()).limit(RECENT)).all()
    quits = s.scalars(select(GroupMember).where(GroupMember.group_id == group.id, GroupMember.quit_at.is_not(None))
                      .order_by(GroupMember.quit_at.desc(), GroupMember.id.desc()).limit(RECENT)).all()
    moves = [(m.joined_at, "joined", m) for m in joins] + [(m.quit_at or m.joined_at, "quit", m) for m in quits]
    moves.sort(key=lambda x: (x[0], x[2].id), reverse=True)
    return [{"who": who(m), "staff": m.member_type == MemberType.staff.value, "move": move,
             "at": _local(at, zone)} for at, move, m in moves[:RECENT]]


def _local(at: dt.datetime, zone: Any) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return at.astimezone(zone).strftime("%m-%d %H:%M")


@bp.get("/group")
@session.page
def group_page() -> Any:
    chat_id = request.args.get("chat_id", "").strip()
    if not chat_id:
        return message("未找到客户群", "没有指明客户群：请从客户群的聊天窗口打开侧边栏。", 400)
    with current_app.extensions["scrm"].Session() as s:
        if "group" not in layout(s, g.sidebar.corp_id).pages:
            return message("页面未开放", "管理员没有开放群详情页。", 404)
        try:
            group = the_group(s, chat_id)
        except ApiError:
            return message("未找到客户群", "这个客户群不在你的客户群列表中。", 404)
        zone = zone_of(s, group.corp_id)
        figures = portrait(s, group, PORTRAIT_DAYS, utcnow())
        peak = max([1, *(day["members"] for day in figures["trend"])])
        return render_template("sidebar/group.html", group=group_json(group, load_extras(s, [group])),
                               portrait=figures, peak=peak, scenes=SCENES, moves=recent_moves(s, group, zone))
