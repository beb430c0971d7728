"""The customer admin API (004 §4.1 客户, §4.5 客户回收站): the filtered list, the detail with follow
relations, tags, custom fields and timeline, custom-field values, the recycle bin, and the CSV export.

Who sees what: a member token sees the customers followed or owned (跟进人, e.g. claimed from the public
pool) by someone in its data scope (web/access.py; the basic role: its member), and their mobile numbers masked
(138****0000) while the corp's 电话号码隐藏 setting is on (001 参数设置, the default); a corp-limited token
sees its corp only. A customer in the recycle bin is absent everywhere but the bin.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.orm import Session

from handlers.smart_tags import on_write
from jobs.runtime import Runtime
from models import (ChannelCode, Corp, CorpSettings, Customer, CustomerEvent, CustomerFieldValue, CustomField,
                    FollowRelation, FollowStatus, FollowTag, Role, Staff, Tag)
from models.customer import followed_or_owned_by
from models.db import utcnow
from models.fields import FieldSubject
from models.recycle import purge_after, restore, retention_days, soft_delete
from rules.fields import FieldType
from rules.privacy import mask_mobile
from web import errors
from web.access import visible_userids
from web.api import _like, page_rows
from web.auth import audit, require
from web.endpoint import MAX_ID, endpoint, parse_query
from web.field_values import live_fields, write_values
from web.errors import ApiError
from web.schemas.common import Page
from web.schemas.customers import (BinnedCustomer, BinQuery, CustomerDetail, CustomerFilters, CustomerOut,
                                   CustomerQuery, ExportQuery, FieldValues)
from web.csv_export import csv_chunks as chunks
from web.csv_export import csv_response, local
from web.scope import corp_and_app, hidden_field_keys, timeline_detail

bp = Blueprint("api_customers", __name__, url_prefix="/api/v1")
errors.register(bp)

TIMELINE_LIMIT = 200
TYPE_NAMES = {1: "微信", 2: "企业微信"}
GENDER_NAMES = {0: "未知", 1: "男", 2: "女"}


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


def _actor() -> str:
    return str(g.principal.actor)


# -- scope and filters ------------------------------------------------------------------------------------
def _scoped(binned: bool = False) -> Select:
    """Customers this token may see: in the recycle bin (`binned`) or not, newest first. A member sees the
    customers followed or owned (跟进人) by someone in their data scope (web/access.py `visible_userids`;
    the rule itself: models/customer.py `followed_or_owned_by`, which the bot and the conversation search
    share)."""
    query = select(Customer).order_by(Customer.id.desc())
    query = query.where(Customer.deleted_at.is_not(None) if binned else Customer.deleted_at.is_(None))
    principal = g.principal
    if principal.corp_id:
        query = query.where(Customer.corp_id == principal.corp_id)
    seen = visible_userids()
    return query if seen is None else query.where(followed_or_owned_by(seen))


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or _runtime().settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(_runtime().settings.timezone)


def _zones(s: Session) -> dict[str, ZoneInfo]:
    return {corp_id: _zone(tz) for corp_id, tz in s.execute(select(Corp.corp_id, Corp.timezone))}


def _day_range(corp_col: Any, at_col: Any, start: dt.date | None, end: dt.date | None,
               prefix: str) -> ColumnElement[bool] | None:
    """`<prefix>_from`/`<prefix>_to` (`start`, `end`: dates, both inclusive) on `at_col`, each day being the
    corp's local day (Corp.timezone, Asia/Shanghai by default): a customer added at 23:30 in Beijing counts
    for that day."""
    if start is None and end is None:
        return None
    if start and end and start > end:
        raise ApiError(400, "bad_request", f"{prefix}_from is after {prefix}_to")
    with _runtime().Session() as s:
        zones = _zones(s)
    default = _zone(None)

    def bounds(zone: ZoneInfo) -> ColumnElement[bool]:
        conds = []
        if start:
            conds.append(at_col >= dt.datetime.combine(start, dt.time(), zone))
        if end:
            conds.append(at_col < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone))
        return and_(*conds)

    by_zone: dict[str, list[str]] = {}
    for corp_id, zone in zones.items():
        by_zone.setdefault(zone.key, []).append(corp_id)
    odd = {key: corps for key, corps in by_zone.items() if key != default.key}
    if not odd:
        return bounds(default)
    odd_corps = [c for corps in odd.values() for c in corps]
    return or_(and_(corp_col.not_in(odd_corps), bounds(default)),
               *(and_(corp_col.in_(corps), bounds(ZoneInfo(key))) for key, corps in odd.items()))


def _tag_filter(query: Select, tags: list[int] | None) -> Select:
    if not tags:
        return query
    pks = set(tags)
    known = select(Tag.id).where(Tag.id.in_(pks), Tag.deleted_at.is_(None))
    if g.principal.corp_id:
        known = known.where(Tag.corp_id == g.principal.corp_id)
    with _runtime().Session() as s:
        missing = pks - set(s.scalars(known))
    if missing:
        raise ApiError(400, "bad_request", f"unknown tag {', '.join(map(str, sorted(missing)))}")
    for pk in sorted(pks):  # every tag given: on any of the customer's follow relations
        query = query.where(exists().where(FollowTag.follow_id == FollowRelation.id, FollowTag.tag_pk == pk,
                                           FollowRelation.customer_id == Customer.id))
    return query


def _channel_filter(query: Select, channel: str) -> Select:
    """`channel`: a channel name (the customer's 渠道来源, or the channel of a code one of its relations came
    through), or a channel code id."""
    channel = channel.strip()
    if not channel:
        return query
    named = select(ChannelCode.id).where(ChannelCode.channel == channel)
    code_match: ColumnElement[bool] = FollowRelation.channel_code_id.in_(named)
    if channel.isascii() and channel.isdigit() and int(channel) <= MAX_ID:
        code_match = or_(code_match, FollowRelation.channel_code_id == int(channel))
    return query.where(or_(Customer.channel == channel, Customer.follows.any(code_match)))


def _filtered(query: Select, filters: CustomerFilters) -> Select:
    """The list's filters (004 §4.1.1), see `CustomerFilters`."""
    follow = [cond for cond in (
        FollowRelation.userid == filters.staff if filters.staff else None,
        FollowRelation.status == filters.status if filters.status else None,
        _day_range(FollowRelation.corp_id, FollowRelation.added_at, filters.added_from, filters.added_to, "added"),
    ) if cond is not None]
    if follow:
        query = query.where(Customer.follows.any(and_(*follow)))
    if filters.owner:
        query = query.where(Customer.owner_userid == filters.owner)
    keyword = (filters.keyword or "").strip()
    if keyword:
        like = _like(keyword)
        query = query.where(or_(Customer.name.like(like, escape="\\"),
                                Customer.follows.any(FollowRelation.remark.like(like, escape="\\"))))
    return _channel_filter(_tag_filter(query, filters.tag), filters.channel or "")


# -- rendering ----------------------------------------------------------------------------------------------
@dataclass
class Extras:
    """What rendering a batch of customers needs, loaded in a handful of queries for the whole batch."""

    follows: dict[int, list[FollowRelation]] = field(default_factory=dict)
    tags: dict[int, list[tuple[Tag, FollowTag]]] = field(default_factory=dict)
    values: dict[int, dict[int, Any]] = field(default_factory=dict)
    fields: dict[str, list[CustomField]] = field(default_factory=dict)
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    codes: dict[int, ChannelCode] = field(default_factory=dict)
    masked: dict[str, bool] = field(default_factory=dict)
    zones: dict[str, ZoneInfo] = field(default_factory=dict)


def load_extras(s: Session, customers: list[Customer]) -> Extras:
    x = Extras()
    if not customers:
        return x
    ids = [c.id for c in customers]
    corps = {c.corp_id for c in customers}
    for f in s.scalars(select(FollowRelation).where(FollowRelation.customer_id.in_(ids))
                       .order_by(FollowRelation.added_at, FollowRelation.id)):
        x.follows.setdefault(f.customer_id, []).append(f)
    follow_ids = [f.id for fs in x.follows.values() for f in fs]
    if follow_ids:
        for ft, tag in s.execute(select(FollowTag, Tag).join(Tag, Tag.id == FollowTag.tag_pk).where(
                FollowTag.follow_id.in_(follow_ids), Tag.deleted_at.is_(None)).order_by(FollowTag.id)):
            x.tags.setdefault(ft.follow_id, []).append((tag, ft))
    member = g.principal.is_member
    for cf in s.scalars(live_fields(FieldSubject.customer.value, corps)):
        x.fields.setdefault(cf.corp_id, []).append(cf)
    field_ids = [f.id for fs in x.fields.values() for f in fs]
    if field_ids:
        for cid, fid, value in s.execute(select(CustomerFieldValue.customer_id, CustomerFieldValue.field_id,
                                                CustomerFieldValue.value).where(
                CustomerFieldValue.customer_id.in_(ids), CustomerFieldValue.field_id.in_(field_ids))):
            x.values.setdefault(cid, {})[fid] = value
    userids = {f.userid for fs in x.follows.values() for f in fs}
    userids |= {c.owner_userid for c in customers if c.owner_userid}
    for corp_id, userid, name in s.execute(select(Staff.corp_id, Staff.userid, Staff.name).where(
            Staff.corp_id.in_(corps), Staff.userid.in_(userids))):
        x.names[(corp_id, userid)] = name
    code_ids = {f.channel_code_id for fs in x.follows.values() for f in fs if f.channel_code_id}
    if code_ids:
        x.codes = {c.id: c for c in s.scalars(select(ChannelCode).where(ChannelCode.id.in_(code_ids)))}
    settings = dict(s.execute(select(CorpSettings.corp_id, CorpSettings.mask_mobile_for_members)
                              .where(CorpSettings.corp_id.in_(corps))).all())
    x.masked = {corp_id: member and settings.get(corp_id, True) for corp_id in corps}
    zones = _zones(s)
    x.zones = {corp_id: zones.get(corp_id) or _zone(None) for corp_id in corps}
    return x


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at else None


def _follow_json(c: Customer, f: FollowRelation, x: Extras) -> dict[str, Any]:
    masked = x.masked[c.corp_id]
    code = x.codes.get(f.channel_code_id) if f.channel_code_id else None
    return {
        "userid": f.userid, "staff_name": x.names.get((c.corp_id, f.userid), ""), "remark": f.remark,
        "description": f.description,
        "remark_mobiles": [mask_mobile(str(m)) if masked else str(m) for m in f.remark_mobiles or []],
        "add_way": f.add_way, "state": f.state,
        "channel_code": {"id": code.id, "name": code.name, "channel": code.channel} if code else None,
        "status": f.status, "status_changed_at": _iso(f.status_changed_at), "added_at": _iso(f.added_at),
        "tags": [{"id": t.id, "name": t.name, "group_id": t.group_pk, "tagged_by": ft.tagged_by,
                  "tagged_at": _iso(ft.tagged_at)} for t, ft in x.tags.get(f.id, [])],
    }


def _field_values(c: Customer, x: Extras) -> dict[str, Any]:
    values = x.values.get(c.id, {})
    masked = x.masked[c.corp_id]
    return {f.key: mask_mobile(values[f.id]) if masked and f.type == FieldType.phone.value else values[f.id]
            for f in x.fields.get(c.corp_id, []) if values.get(f.id) is not None}


def customer_json(c: Customer, x: Extras) -> dict[str, Any]:
    follows = x.follows.get(c.id, [])
    tags: dict[int, dict[str, Any]] = {}
    for f in follows:
        for t, _ in x.tags.get(f.id, []):
            tags.setdefault(t.id, {"id": t.id, "name": t.name})
    return {
        "id": c.id, "corp_id": c.corp_id, "external_userid": c.external_userid, "name": c.name,
        "avatar": c.avatar, "type": c.type, "gender": c.gender, "unionid": c.unionid, "corp_name": c.corp_name,
        "position": c.position, "owner_userid": c.owner_userid,
        "owner_name": x.names.get((c.corp_id, c.owner_userid or ""), ""),
        "mobile": mask_mobile(c.mobile) if x.masked[c.corp_id] else c.mobile, "channel": c.channel,
        "added_at": _iso(follows[0].added_at) if follows else None,
        "follows": [_follow_json(c, f, x) for f in follows],
        "tags": list(tags.values()),
        "fields": _field_values(c, x),
        "created_at": _iso(c.created_at), "synced_at": _iso(c.synced_at),
    }


def _render_page(s: Session, customers: list[Customer]) -> list[dict[str, Any]]:
    x = load_extras(s, customers)
    return [customer_json(c, x) for c in customers]


def _detail(s: Session, c: Customer) -> dict[str, Any]:
    body = customer_json(c, load_extras(s, [c]))
    events = s.scalars(select(CustomerEvent).where(CustomerEvent.customer_id == c.id)
                       .order_by(CustomerEvent.at.desc(), CustomerEvent.id.desc()).limit(TIMELINE_LIMIT)).all()
    hidden = hidden_field_keys(s, c.corp_id)
    body["timeline"] = [{"kind": e.kind, "userid": e.userid, "detail": detail, "at": _iso(e.at)} for e in events
                        if (detail := timeline_detail(e.kind, e.detail, hidden)) is not None]
    return body


def _customer(s: Session, customer_id: int, binned: bool = False) -> Customer:
    customer = s.scalar(_scoped(binned).where(Customer.id == customer_id))
    if customer is None:
        where = "in the recycle bin" if binned else ""
        raise ApiError(404, "not_found", f"no customer {customer_id} {where}".strip())
    return customer


# -- list and detail -------------------------------------------------------------------------------------
@bp.get("/customers")
@require(Role.member)
@endpoint("Customers (a member sees only those they follow or own; mobiles masked for members while the corp's "
          "mask_mobile_for_members is on)", query=CustomerQuery, response=Page[CustomerOut])
def list_customers(query: CustomerQuery) -> Any:
    return page_rows(_filtered(_scoped(), query), _render_page, query)


@bp.get("/customers/<id:customer_id>")
@require(Role.member)
@endpoint("One customer: follow relations with their tags, custom field values, timeline (newest first)",
          response=CustomerDetail)
def get_customer(customer_id: int) -> Any:
    with _runtime().Session() as s:
        return jsonify(_detail(s, _customer(s, customer_id)))


# -- custom field values -----------------------------------------------------------------------------------
@bp.put("/customers/<id:customer_id>/fields")
@require(Role.member)
@endpoint("Set custom field values (key → value, null clears); 422 names bad fields, 409 a taken unique value",
          body=FieldValues, response=CustomerDetail)
def put_fields(customer_id: int, body: FieldValues) -> Any:
    """Set custom field values (key → value; null clears). A member edits the customers they follow, and
    only visible fields; a required field must hold a value afterwards; a unique one must not be any other
    customer's value (409). All or nothing."""
    with _runtime().WriteSession.begin() as s:
        customer = set_fields(s, customer_id, body.model_extra or {})
        return jsonify(_detail(s, customer))


def set_fields(s: Session, customer_id: int, values: dict[str, Any]) -> Customer:
    """Write `values` on a customer in the caller's scope (web/field_values.py `write_values`), with the
    timeline event and the audit entry; shared by the admin API and the sidebar's profile page."""
    customer = _customer(s, customer_id)
    keys = write_values(s, FieldSubject.customer.value, customer.corp_id, customer.id, values, "customer")
    s.add(CustomerEvent(customer_id=customer.id, kind="fields_changed", userid=g.principal.userid,
                        detail={"fields": keys, "by": _actor()}, source=f"api:{uuid.uuid4().hex}", at=utcnow()))
    audit(s, "customer.fields", f"customer:{customer.id}", fields=keys)  # keys only: values may be phones
    on_write(s, customer.corp_id, "field", [customer.id])
    s.flush()
    return customer


# -- recycle bin (004 §4.5) ------------------------------------------------------------------------------
@bp.delete("/customers/<id:customer_id>")
@require(Role.super_admin)
@endpoint("Move a customer to the recycle bin (soft delete)", response=BinnedCustomer)
def delete_customer(customer_id: int) -> Any:
    """Soft delete: into the recycle bin, with everything it has, until restored or purged."""
    with _runtime().WriteSession.begin() as s:
        customer = _customer(s, customer_id)
        soft_delete(s, customer, _actor())
        audit(s, "customer.delete", f"customer:{customer.id}", external_userid=customer.external_userid)
        return jsonify(_binned_json(s, customer))


def _binned_json(s: Session, c: Customer) -> dict[str, Any]:
    body = customer_json(c, load_extras(s, [c]))
    return body | {"deleted_at": _iso(c.deleted_at), "deleted_by": c.deleted_by,
                   "purge_after": _iso(purge_after(cast(dt.datetime, c.deleted_at), retention_days(s, c.corp_id)))}


@bp.get("/recycle-bin")
@require(Role.admin)
@endpoint("Customers in the recycle bin, latest deletion first", query=BinQuery, response=Page[BinnedCustomer])
def list_recycle_bin(query: BinQuery) -> Any:
    """Binned customers, latest deletion first; keyword on name, mobile or remark; deleted_from/_to dates."""
    rows = _scoped(binned=True).order_by(None).order_by(Customer.deleted_at.desc(), Customer.id.desc())
    keyword = (query.keyword or "").strip()
    if keyword:
        like = _like(keyword)
        rows = rows.where(or_(Customer.name.like(like, escape="\\"), Customer.mobile.like(like, escape="\\"),
                              Customer.follows.any(FollowRelation.remark.like(like, escape="\\"))))
    deleted = _day_range(Customer.corp_id, Customer.deleted_at, query.deleted_from, query.deleted_to, "deleted")
    if deleted is not None:
        rows = rows.where(deleted)
    return page_rows(rows, lambda s, customers: [_binned_json(s, c) for c in customers], query)


@bp.post("/recycle-bin/<id:customer_id>/restore")
@require(Role.admin)
@endpoint("Take a customer out of the recycle bin with its relations, tags and field values",
          response=CustomerDetail)
def restore_customer(customer_id: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        customer = _customer(s, customer_id, binned=True)
        restore(s, customer, _actor())
        audit(s, "customer.restore", f"customer:{customer.id}", external_userid=customer.external_userid)
        s.flush()
        return jsonify(_detail(s, customer))


# -- CSV export ----------------------------------------------------------------------------------------------
def _field_cell(f: CustomField, value: Any) -> Any:
    if value is None:
        return ""
    return "、".join(value) if f.type == FieldType.multi_select.value else value


HEADER = ["客户ID", "客户名称", "客户类型", "性别", "企业名称", "职务", "电话", "跟进人", "添加人", "添加人数量",
          "添加时间", "渠道来源", "客户标签", "备注"]


def _csv_row(c: Customer, x: Extras, fields: list[CustomField]) -> list[Any]:
    follows = x.follows.get(c.id, [])
    active = [f for f in follows if f.status == FollowStatus.active.value]
    tags = dict.fromkeys(t.name for f in follows for t, _ in x.tags.get(f.id, []))
    values = x.values.get(c.id, {})
    row = [c.external_userid, c.name, TYPE_NAMES.get(c.type or 0, ""), GENDER_NAMES.get(c.gender or 0, "未知"),
           c.corp_name, c.position, c.mobile, x.names.get((c.corp_id, c.owner_userid or ""), c.owner_userid or ""),
           "、".join(x.names.get((c.corp_id, f.userid)) or f.userid for f in active), len(active),
           local(follows[0].added_at if follows else None, x.zones[c.corp_id]), c.channel, "、".join(tags),
           follows[0].remark if follows else ""]
    return row + [_field_cell(f, values.get(f.id)) for f in fields]


def export_query(filters: ExportQuery) -> tuple[str, Select, list[CustomField]]:
    """(corp id, query, custom fields) of the export `filters` ask for: the list's filters and the token's
    scope. The export job runs it in a replay of the request that asked (jobs.export)."""
    query = _filtered(_scoped(), filters)
    with _runtime().Session() as s:
        corp_id, _ = corp_and_app(s, filters.corp_id)
        fields = s.scalars(live_fields(FieldSubject.customer.value, corp_id)).all()
        s.expunge_all()
    return corp_id, query.where(Customer.corp_id == corp_id), list(fields)


def requested_export() -> tuple[str, Select, list[CustomField]]:
    """`export_query` for the export this request's query string asks for (400 on a bad filter): the job
    and the CLI run it in a replayed request (jobs.export.replayed)."""
    return export_query(cast(ExportQuery, parse_query(ExportQuery)))


def csv_chunks(runtime: Runtime, query: Select, fields: list[CustomField]) -> Iterator[tuple[int, str]]:
    """The customers' CSV as (customers in it, text) (web/csv_export.py): each batch's follows, tags and
    values looked up together."""
    def render(lookup: Session, batch: list[Customer]) -> list[list[Any]]:
        x = load_extras(lookup, batch)
        return [_csv_row(c, x, fields) for c in batch]

    return chunks(runtime, query, HEADER + [f.label for f in fields], render)


def export_filename(corp_id: str) -> str:
    return f"customers-{corp_id}-{dt.datetime.now(dt.UTC):%Y%m%d}.csv"


def audit_export(corp_id: str, filters: ExportQuery, **detail: Any) -> None:
    with _runtime().WriteSession.begin() as s:
        audit(s, "customer.export", f"corp:{corp_id}",
              filters=filters.model_dump(mode="json", exclude_none=True, exclude={"corp_id"}), **detail)


@bp.get("/customers/export.csv")
@require(Role.super_admin)
@endpoint("One corp's customers as CSV (UTF-8 with BOM), streamed; the list's filters", query=ExportQuery,
          response=str)
def export_customers(query: ExportQuery) -> Any:
    """One corp's customers (the list's filters) as CSV, streamed as it is read (`csv_chunks`). For a
    large corp, `POST /exports` makes the file in a job whose progress can be watched."""
    corp_id, rows, fields = export_query(query)
    audit_export(corp_id, query)
    return csv_response(csv_chunks(_runtime(), rows, fields), export_filename(corp_id))
