"""A group's numbers from its members' stints (models/groups.py): its size at the end of a corp-local day
(one count) and its portrait (群画像, 004 §4.2.3) over the last 7 or 30 corp-local days."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from models import Corp, Customer, CustomerGroup, FollowRelation, FollowTag, GroupMember, JoinScene, MemberType, Tag
from web.api_customers import _zone

__all__ = ["portrait", "size_at", "zone_of"]

GENDERS = {1: "male", 2: "female"}


def zone_of(s: Session, corp_id: str) -> Any:
    return _zone(s.scalar(select(Corp.timezone).where(Corp.corp_id == corp_id)))


def _in_group_at(at: dt.datetime) -> Any:
    """A stint that covers the instant just before `at`: joined before it, not quit before it."""
    return and_(GroupMember.joined_at < at, or_(GroupMember.quit_at.is_(None), GroupMember.quit_at >= at))


def size_at(s: Session, group: CustomerGroup, at: dt.datetime) -> tuple[int, int]:
    """(staff, external) members of `group` just before `at`: one query over the stints."""
    staff, total = s.execute(select(
        func.coalesce(func.sum(case((GroupMember.member_type == MemberType.staff.value, 1), else_=0)), 0),
        func.count(GroupMember.id)).where(GroupMember.group_id == group.id, _in_group_at(at))).one()
    return int(staff), int(total) - int(staff)


def _tags(s: Session, customer_ids: set[int]) -> list[dict[str, Any]]:
    """Customer tags (any follow relation's) of these customers: how many customers hold each."""
    if not customer_ids:
        return []
    rows = s.execute(select(Tag.id, Tag.name, func.count(func.distinct(FollowRelation.customer_id)))
                     .join(FollowTag, FollowTag.tag_pk == Tag.id)
                     .join(FollowRelation, FollowRelation.id == FollowTag.follow_id)
                     .where(FollowRelation.customer_id.in_(customer_ids), Tag.deleted_at.is_(None))
                     .group_by(Tag.id, Tag.name)).all()
    return [{"id": pk, "name": name, "customers": n} for pk, name, n in sorted(rows, key=lambda r: (-r[2], r[0]))]


def portrait(s: Session, group: CustomerGroup, days: int, now: dt.datetime) -> dict[str, Any]:
    """The portrait: members now (staff, linked customers, unlinked externals), the linked customers'
    gender and tags, how the members now came in, and joins, quits and end-of-day size per corp-local day
    of the window. Five queries, whatever the group's size or the window."""
    zone = zone_of(s, group.corp_id)
    today = now.astimezone(zone).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(), zone)
    current = s.execute(select(GroupMember.member_type, GroupMember.customer_id, GroupMember.join_scene,
                               Customer.gender).outerjoin(Customer, Customer.id == GroupMember.customer_id)
                        .where(GroupMember.group_id == group.id, GroupMember.quit_at.is_(None))).all()
    staff = sum(1 for r in current if r.member_type == MemberType.staff.value)
    linked = {r.customer_id: r.gender for r in current if r.member_type == MemberType.external.value and r.customer_id}
    external = len(current) - staff
    gender = Counter(GENDERS.get(g or 0, "unknown") for g in linked.values())
    scenes = Counter(JoinScene(r.join_scene).name if r.join_scene in {j.value for j in JoinScene} else "unknown"
                     for r in current)
    moves = s.execute(select(GroupMember.joined_at, GroupMember.quit_at).where(
        GroupMember.group_id == group.id, or_(GroupMember.joined_at >= start, GroupMember.quit_at >= start))).all()
    joins: Counter[dt.date] = Counter(j.astimezone(zone).date() for j, _ in moves if j >= start)
    quits: Counter[dt.date] = Counter(q.astimezone(zone).date() for _, q in moves if q is not None and q >= start)
    members = sum(size_at(s, group, start))
    trend = []
    for n in range(days):
        day = first + dt.timedelta(days=n)
        members += joins[day] - quits[day]
        trend.append({"date": day.isoformat(), "joins": joins[day], "quits": quits[day], "members": members})
    return {
        "chat_id": group.chat_id, "days": days,
        "members": {"total": len(current), "staff": staff, "external": external},
        "composition": {"staff": staff, "customers": len(linked), "unlinked": external - len(linked)},
        "gender": {"male": gender["male"], "female": gender["female"], "unknown": gender["unknown"]},
        "member_tags": _tags(s, set(linked)),
        "trend": trend,
        "join_scenes": {name: scenes[name] for name in ("direct_invite", "invite_link", "scanned_code", "unknown")},
    }
