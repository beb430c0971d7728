"""A group rule's conditions (web/schemas/group_smart_tags.py) compiled over `CustomerGroup`: the leaves that
handlers/smart_tag_sql.py `rule_condition` puts into its AND/OR groups for a rule whose subject is `group`.

Counts read the group row's cached staff and external counts (handlers/group_store.py keeps them equal to the
open stints); joins are stints opened within the window, so a member who left and came back counts twice, as
the group's join list shows them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select

from handlers.smart_tag_sql import Scope
from models.directory import OrgChart
from models.groups import CustomerGroup, GroupMember, MemberType
from web.segment_query import day_bounds, in_range

_TYPES = {"customers": MemberType.external.value, "staff": MemberType.staff.value}


def _within(value: Any, low: int | None, high: int | None) -> ColumnElement[bool]:
    return and_(*([value >= low] if low is not None else []), *([value <= high] if high is not None else []))


def _members(who: str) -> Any:
    return {"all": CustomerGroup.staff_count + CustomerGroup.external_count, "customers": CustomerGroup.external_count,
            "staff": CustomerGroup.staff_count}[who]


def _joins(since: dt.datetime, who: str) -> Any:
    kinds = [GroupMember.member_type == _TYPES[who]] if who in _TYPES else []
    return select(func.count(GroupMember.id)).where(GroupMember.group_id == CustomerGroup.id,
                                                    GroupMember.joined_at >= since, *kinds).scalar_subquery()


def group_leaf(scope: Scope, c: Any) -> ColumnElement[bool]:
    """One condition of a group rule as SQL over `CustomerGroup`."""
    kind = c.kind
    if kind == "group_name":
        return or_(*(CustomerGroup.name.contains(w, autoescape=True) for w in c.words))
    if kind == "group_owner":
        return CustomerGroup.owner_userid.in_(c.userids)
    if kind == "owner_department":
        chart = OrgChart.load(scope.session, scope.corp_id)
        members = chart.members_of(chart.below(set(c.departments)))
        return CustomerGroup.owner_userid.in_(sorted(members)) if members else false()
    if kind == "member_count":
        return _within(_members(c.who), c.min, c.max)
    if kind == "group_created":
        return and_(CustomerGroup.group_created_at.is_not(None),
                    *in_range(CustomerGroup.group_created_at, day_bounds(scope.zone, c.since, c.until)))
    if kind == "group_joins":
        return _within(_joins(scope.now - dt.timedelta(days=c.days), c.who), c.min, c.max)
    raise ValueError(f"unknown group condition kind {kind!r}")
