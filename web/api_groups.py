"""The customer-group admin API (客户群, 004 §4.2): the filtered list with the activity flag, a group's
detail with its members and those who left, its size on a past day, its portrait, its custom field values,
and the list as CSV. Scope: web/group_scope.py (a member sees the groups they own or are or were in;
another group is a 404 by chat_id and absent from lists and exports). Every write is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, jsonify
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CustomerGroup, CustomField, FieldSubject, GroupMember, MemberType, Role
from web import errors
from web.api import page_rows
from web.auth import audit, require
from web.csv_export import csv_chunks, csv_response, local
from web.endpoint import endpoint
from web.errors import ApiError
from web.field_values import live_fields, write_values
from web.group_scope import group_rows
from web.group_stats import portrait, size_at, zone_of
from web.group_view import field_values, filtered, group_json, load_extras, the_group
from web.sales_scope import runtime
from web.schemas.common import Day, Page
from web.schemas.customers import FieldValues
from web.schemas.groups import (DaySize, GroupDetail, GroupExportQuery, GroupOut, GroupQuery, Portrait,
                                PortraitQuery, SizeQuery)
from web.scope import corp_and_app

bp = Blueprint("api_groups", __name__, url_prefix="/api/v1")
errors.register(bp)

DAY = TypeAdapter(Day)
HEADER = ["客户群ID", "客户群名称", "群主", "群人数", "员工", "客户", "群标签", "创建时间", "活跃", "已解散"]


def _member_json(m: GroupMember) -> dict[str, Any]:
    return {"member_id": m.member_id, "type": MemberType(m.member_type).name, "name": m.name,
            "group_nickname": m.group_nickname, "customer_id": m.customer_id, "joined_at": m.joined_at.isoformat(),
            "join_scene": m.join_scene, "inviter": m.inviter_userid}


def _detail(s: Session, grp: CustomerGroup) -> dict[str, Any]:
    x = load_extras(s, [grp], with_fields=True)
    stints = s.scalars(select(GroupMember).where(GroupMember.group_id == grp.id)
                       .order_by(GroupMember.joined_at, GroupMember.id)).all()
    left = sorted((m for m in stints if m.quit_at is not None), key=lambda m: (m.quit_at, m.id), reverse=True)
    return group_json(grp, x) | {
        "notice": grp.notice, "admins": list(grp.admins or []), "status": grp.status,
        "dismissed_at": grp.dismissed_at.isoformat() if grp.dismissed_at else None,
        "fields": field_values(grp, x),
        "members": [_member_json(m) for m in stints if m.quit_at is None],
        "left": [_member_json(m) | {"quit_at": m.quit_at.isoformat() if m.quit_at else None,
                                    "quit_scene": m.quit_scene} for m in left]}


def _render_page(s: Session, groups: list[CustomerGroup]) -> list[dict[str, Any]]:
    x = load_extras(s, groups)
    return [group_json(grp, x) for grp in groups]


@bp.get("/groups")
@require(Role.member)
@endpoint("Customer groups (客户群), newest first: filters, size, tags, activity flag (a member: their groups)",
          query=GroupQuery, response=Page[GroupOut])
def list_groups(query: GroupQuery) -> Any:
    """`active` follows the corp's rule (GET /group-activity-rule): without the chat archive we see no group
    messages, so it counts the external members who joined within the rule's window among the members now;
    it is computed in the query, for the page and for the `active` filter alike (nothing precomputed). Each
    page is a count, the page and a few queries for the whole page (owner names, tags, the activity flag):
    none per group."""
    return page_rows(filtered(group_rows(), query), _render_page, query)


@bp.get("/groups/<chat_id>")
@require(Role.member)
@endpoint("One group: notice, admins, custom fields, members now (join time, scene, inviter, customer) and "
          "those who left (quit time and scene)", response=GroupDetail)
def get_group(chat_id: str) -> Any:
    with runtime().Session() as s:
        return jsonify(_detail(s, the_group(s, chat_id)))


@bp.get("/groups/<chat_id>/size")
@require(Role.member)
@endpoint("Members at the end of a corp-local day (one count over the members' stints)", query=SizeQuery,
          response=DaySize)
def group_size(chat_id: str, query: SizeQuery) -> Any:
    """The group's members as of the end of `date` in the corp's time zone (today: now). A day before the
    group existed answers 200 with zeros, not 404: the count over the stints is well defined for any day
    (nobody was in the group), a chart over a range that starts before the group needs a value per day,
    and 404 stays what it means everywhere else here, "no such group (for you)". A malformed date, or a
    day after today, is a 422 naming `date`; an unknown group a 404."""
    try:
        day = DAY.validate_python(query.date)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ApiError(422, "invalid", f"date: {why}", {"date": why}) from None
    with runtime().Session() as s:
        grp = the_group(s, chat_id)
        zone = zone_of(s, grp.corp_id)
        now = dt.datetime.now(dt.UTC)
        if day > now.astimezone(zone).date():
            raise ApiError(422, "invalid", "date: after today (corp-local): not known yet", {"date": "after today"})
        end = min(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone), now)
        staff, external = size_at(s, grp, end)
    return jsonify({"date": day.isoformat(), "members": staff + external, "external": external, "staff": staff})


@bp.get("/groups/<chat_id>/portrait")
@require(Role.member)
@endpoint("The group's portrait (群画像) over the last 7 or 30 corp-local days", query=PortraitQuery,
          response=Portrait)
def group_portrait(chat_id: str, query: PortraitQuery) -> Any:
    """Members now (staff, customers, unlinked externals), the linked customers' gender and customer tags,
    how the current members came in (join scene), and joins, quits and members per corp-local day. Message
    trends need the chat archive and are not shown."""
    with runtime().Session() as s:
        grp = the_group(s, chat_id)
        return jsonify(portrait(s, grp, query.days, dt.datetime.now(dt.UTC)))


@bp.put("/groups/<chat_id>/fields")
@require(Role.member)
@endpoint("Set group custom field values (key → value, null clears); 422 names bad fields, 409 a taken unique "
          "value", body=FieldValues, response=GroupDetail)
def put_group_fields(chat_id: str, body: FieldValues) -> Any:
    """The customers' rules (web/field_values.py) on the corp's group fields (custom fields with subject
    group): a member writes the groups they see, and only visible fields; all or nothing."""
    with runtime().WriteSession.begin() as s:
        grp = the_group(s, chat_id)
        keys = write_values(s, FieldSubject.group.value, grp.corp_id, grp.id, body.model_extra or {}, "group")
        audit(s, "group.fields", f"group:{grp.chat_id}", corp_id=grp.corp_id, fields=keys)
        return jsonify(_detail(s, grp))


# -- CSV export ----------------------------------------------------------------------------------------------
def _csv_rows(lookup: Session, batch: list[CustomerGroup], fields: list[CustomField], zone: Any) -> list[list[Any]]:
    """One batch of groups as CSV cells, their tags, owners and field values loaded for the batch at once."""
    x = load_extras(lookup, batch, with_fields=True)
    rows = []
    for grp in batch:
        body = group_json(grp, x)
        values = field_values(grp, x)
        row = [grp.chat_id, grp.name, body["owner_name"] or grp.owner_userid, body["size"]["total"], grp.staff_count,
               grp.external_count, "、".join(t["name"] for t in body["tags"]), local(grp.group_created_at, zone),
               "活跃" if body["active"] else "不活跃", "是" if body["dismissed"] else "否"]
        rows.append(row + ["、".join(v) if isinstance(v := values.get(f.key, ""), list) else v for f in fields])
    return rows


@bp.get("/groups/export.csv")
@require(Role.super_admin)
@endpoint("One corp's customer groups as CSV (UTF-8 with BOM), streamed; the list's filters",
          query=GroupExportQuery, response=str)
def export_groups(query: GroupExportQuery) -> Any:
    """The list's columns and the corp's group custom fields, one row per group the filters keep."""
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        fields = list(s.scalars(live_fields(FieldSubject.group.value, corp_id)))
        zone = zone_of(s, corp_id)
        s.expunge_all()
    rows = filtered(group_rows(), query).where(CustomerGroup.corp_id == corp_id)
    with runtime().WriteSession.begin() as s:
        audit(s, "group.export", f"corp:{corp_id}",
              filters=query.model_dump(mode="json", exclude_none=True, exclude={"corp_id"}))
    name = f"groups-{corp_id}-{dt.datetime.now(dt.UTC):%Y%m%d}.csv"
    chunks = csv_chunks(runtime(), rows, HEADER + [f.label for f in fields],
                        lambda lookup, batch: _csv_rows(lookup, batch, fields, zone))
    return csv_response(chunks, name)
