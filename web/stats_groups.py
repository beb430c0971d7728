"""The group analysis (客户群统计) of a corp's period, per group owner of the scope: the groups the caller may
see (web/group_scope.py) that each owns, how many were created in the period, customers who joined and quit
them in it; and WeCom's own 群聊数据统计 by owner as synced daily (models.stats.GroupChatDay), summed over the
period (totals: the last synced day's), with its figures per day for the trend."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import CustomerGroup, GroupMember, MemberType, Staff
from models.stats import GroupChatDay
from web.group_scope import group_rows
from web.stats_scope import Frame

SUMS = ("new_chat_cnt", "new_member_cnt", "msg_total", "chat_has_msg", "member_has_msg")
LATEST = ("chat_total", "member_total")


def _groups(frame: Frame) -> Any:
    rows = group_rows().with_only_columns(CustomerGroup.id).order_by(None).where(
        CustomerGroup.corp_id == frame.corp_id)
    if frame.members is not None:
        rows = rows.where(CustomerGroup.owner_userid.in_(sorted(frame.members)))
    return rows


def _stints(s: Session, frame: Frame, column: Any) -> Counter[str]:
    """Customers' stints in the scope's groups whose `column` (joined_at, quit_at) is in the period, by owner."""
    rows = select(CustomerGroup.owner_userid, func.count()).join(GroupMember, GroupMember.group_id == CustomerGroup.id)\
        .where(CustomerGroup.id.in_(_groups(frame)), GroupMember.member_type == MemberType.external.value,
               column >= frame.period.start, column < frame.period.end).group_by(CustomerGroup.owner_userid)
    return Counter(dict(s.execute(rows).all()))


def _wecom(s: Session, frame: Frame) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
    day = GroupChatDay
    conds = [day.corp_id == frame.corp_id, day.day >= frame.period.first, day.day <= frame.period.last]
    if frame.members is not None:
        conds.append(day.owner.in_(sorted(frame.members)))
    per_owner = {owner: dict(zip(SUMS, map(int, sums), strict=True)) for owner, *sums in s.execute(
        select(day.owner, *(func.sum(getattr(day, f)) for f in SUMS)).where(*conds).group_by(day.owner))}
    last_day = select(day.owner, func.max(day.day).label("d")).where(*conds).group_by(day.owner).subquery()
    for owner, *latest in s.execute(select(day.owner, *(getattr(day, f) for f in LATEST)).join(
            last_day, (last_day.c.owner == day.owner) & (last_day.c.d == day.day)).where(day.corp_id == frame.corp_id)):
        per_owner[owner].update(zip(LATEST, latest, strict=True))
    by_day = {d: (a, b, c) for d, a, b, c in s.execute(
        select(day.day, func.sum(day.new_chat_cnt), func.sum(day.new_member_cnt), func.sum(day.msg_total))
        .where(*conds).group_by(day.day))}
    days = [{"day": d.isoformat(), "new_chat_cnt": int(by_day[d][0]), "new_member_cnt": int(by_day[d][1]),
             "msg_total": int(by_day[d][2])} for d in sorted(by_day)]
    return per_owner, days


def group_stats(s: Session, frame: Frame) -> dict[str, Any]:
    live = select(CustomerGroup.owner_userid, func.count()).where(
        CustomerGroup.id.in_(_groups(frame)), CustomerGroup.dismissed_at.is_(None)).group_by(CustomerGroup.owner_userid)
    held = Counter(dict(s.execute(live).all()))
    created = Counter(dict(s.execute(select(CustomerGroup.owner_userid, func.count()).where(
        CustomerGroup.id.in_(_groups(frame)), CustomerGroup.group_created_at >= frame.period.start,
        CustomerGroup.group_created_at < frame.period.end).group_by(CustomerGroup.owner_userid)).all()))
    joined, quit_ = _stints(s, frame, GroupMember.joined_at), _stints(s, frame, GroupMember.quit_at)
    wecom, days = _wecom(s, frame)
    owners = set(held) | set(created) | set(joined) | set(wecom)
    names: dict[str, str] = dict(s.execute(select(Staff.userid, Staff.name).where(
        Staff.corp_id == frame.corp_id, Staff.userid.in_(sorted(owners)))).all()) if owners else {}
    empty = dict.fromkeys((*SUMS, *LATEST), 0)
    items = [{"owner": o, "name": names.get(o, ""), "groups": held[o], "new_groups": created[o], "joined": joined[o],
              "quit": quit_[o], "wecom": {**empty, **wecom.get(o, {})}}
             for o in sorted(owners, key=lambda o: (-held[o], o))]
    return {"corp_id": frame.corp_id, "from": frame.period.first.isoformat(), "to": frame.period.last.isoformat(),
            "items": items, "total": len(items), "days": days}


