"""What the customer-group routes share (web/api_groups.py, web/api_group_tags.py): the group a path names,
the list's filters, and a page of groups rendered with what it needs loaded in a few queries for the whole
page (owner names, group tags, the activity flag, custom field values) rather than per group."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import g
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from models import CustomerGroup, CustomField, FieldSubject, GroupFieldValue, GroupTag, GroupTagging, Staff
from web.api import _like
from web.api_customers import _day_range
from web.errors import ApiError
from web.field_values import live_fields
from web.group_activity import active_expression, active_of
from web.group_scope import visible_group
from web.sales_scope import runtime
from web.schemas.groups import GroupFilters

__all__ = ["Extras", "filtered", "group_json", "load_extras", "the_group"]


def the_group(s: Session, chat_id: str) -> CustomerGroup:
    """The group `chat_id` names, if this token may see it (web/group_scope.py), else 404. A chat id longer
    than WeCom's 64 characters names no group and costs no query."""
    if len(chat_id) > 64:
        raise ApiError(404, "not_found", "no group with that chat_id")
    return visible_group(s, chat_id)


def filtered(query: Select, filters: GroupFilters) -> Select:
    """`query` (group_rows()) narrowed by the list's filters (see GroupFilters)."""
    if filters.owner:
        query = query.where(CustomerGroup.owner_userid == filters.owner)
    name = (filters.name or "").strip()
    if name:
        query = query.where(CustomerGroup.name.like(_like(name), escape="\\"))
    created = _day_range(CustomerGroup.corp_id, CustomerGroup.group_created_at, filters.created_from,
                         filters.created_to, "created")
    if created is not None:
        query = query.where(created)
    if filters.min_size is not None and filters.max_size is not None and filters.min_size > filters.max_size:
        raise ApiError(400, "bad_request", "min_size is above max_size", {"min_size": "above max_size"})
    size = CustomerGroup.staff_count + CustomerGroup.external_count
    if filters.min_size is not None:
        query = query.where(size >= filters.min_size)
    if filters.max_size is not None:
        query = query.where(size <= filters.max_size)
    if filters.dismissed is not None:
        query = query.where(CustomerGroup.dismissed_at.is_not(None) if filters.dismissed
                            else CustomerGroup.dismissed_at.is_(None))
    if filters.tag:
        query = _tag_filter(query, filters.tag)
    if filters.active is not None:
        with runtime().Session() as s:
            active = active_expression(s)
        query = query.where(active if filters.active else ~active)
    return query


def _tag_filter(query: Select, tags: list[int]) -> Select:
    """Groups holding every tag in `tags`; a tag that does not exist (for this token's corp) is a 400."""
    pks = set(tags)
    known = select(GroupTag.id).where(GroupTag.id.in_(pks))
    if g.principal.corp_id:
        known = known.where(GroupTag.corp_id == g.principal.corp_id)
    with runtime().Session() as s:
        missing = pks - set(s.scalars(known))
    if missing:
        raise ApiError(400, "bad_request", f"tag: unknown group tag {', '.join(map(str, sorted(missing)))}",
                       {"tag": "unknown group tag"})
    for pk in sorted(pks):
        query = query.where(exists().where(GroupTagging.group_id == CustomerGroup.id, GroupTagging.tag_id == pk))
    return query


@dataclass
class Extras:
    """What rendering a page of groups needs, loaded for the whole page."""

    names: dict[tuple[str, str], str] = field(default_factory=dict)
    tags: dict[int, list[GroupTag]] = field(default_factory=dict)
    active: dict[int, bool] = field(default_factory=dict)
    fields: dict[str, list[CustomField]] = field(default_factory=dict)
    values: dict[int, dict[int, Any]] = field(default_factory=dict)


def load_extras(s: Session, groups: list[CustomerGroup], with_fields: bool = False) -> Extras:
    x = Extras()
    if not groups:
        return x
    ids, corps = [grp.id for grp in groups], {grp.corp_id for grp in groups}
    owners = {grp.owner_userid for grp in groups}
    for corp_id, userid, name in s.execute(select(Staff.corp_id, Staff.userid, Staff.name).where(
            Staff.corp_id.in_(corps), Staff.userid.in_(owners))):
        x.names[(corp_id, userid)] = name
    for group_id, tag in s.execute(select(GroupTagging.group_id, GroupTag).join(GroupTag).where(
            GroupTagging.group_id.in_(ids)).order_by(GroupTag.tag_group_id, GroupTag.order.desc(), GroupTag.id)):
        x.tags.setdefault(group_id, []).append(tag)
    x.active = active_of(s, ids)
    if with_fields:
        for f in s.scalars(live_fields(FieldSubject.group.value, corps)):
            x.fields.setdefault(f.corp_id, []).append(f)
        field_ids = [f.id for fs in x.fields.values() for f in fs]
        if field_ids:
            for group_id, field_id, value in s.execute(select(
                    GroupFieldValue.group_id, GroupFieldValue.field_id, GroupFieldValue.value).where(
                    GroupFieldValue.group_id.in_(ids), GroupFieldValue.field_id.in_(field_ids))):
                x.values.setdefault(group_id, {})[field_id] = value
    return x


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at else None


def field_values(grp: CustomerGroup, x: Extras) -> dict[str, Any]:
    values = x.values.get(grp.id, {})
    return {f.key: values[f.id] for f in x.fields.get(grp.corp_id, []) if values.get(f.id) is not None}


def group_json(grp: CustomerGroup, x: Extras) -> dict[str, Any]:
    return {"corp_id": grp.corp_id, "chat_id": grp.chat_id, "name": grp.name, "owner": grp.owner_userid,
            "owner_name": x.names.get((grp.corp_id, grp.owner_userid), ""),
            "size": {"total": grp.staff_count + grp.external_count, "staff": grp.staff_count,
                     "external": grp.external_count},
            "tags": [{"id": t.id, "name": t.name, "tag_group_id": t.tag_group_id} for t in x.tags.get(grp.id, [])],
            "created_at": _iso(grp.group_created_at), "active": x.active.get(grp.id, False),
            "dismissed": grp.dismissed_at is not None}
