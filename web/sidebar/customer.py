"""The sidebar's pages: the entry (`/sidebar/`, which asks WeCom's bridge whom the chat is with) and the
customer profile (客户详情, 004 §4.1.2-4.1.9): name, avatar, type, followers, the member's tags on the
customer, remark, custom fields in the corp's order (editable: a member writes the visible fields), opportunities,
the timeline newest first, and 退回公海 for the customer's own follower.

What a member sees is what their member token sees in the admin API: the customer is looked up through
web/api_customers.py `_scoped` (their corp, customers they follow or own) and rendered from its `load_extras` /
`customer_json` (mobiles masked, invisible fields left out)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, g, render_template, request
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from handlers.tags import PENDING_PREFIX
from models import Customer, CustomerEvent, FollowUpType, Staff, Tag, TagGroup
from models.fields import CustomField
from models.pool import PoolReturnReason
from models.sales import Opportunity, OpportunityStage
from rules.fields import FieldType
from web.api_customers import TYPE_NAMES, _scoped, customer_json, load_extras
from web.scope import hidden_field_keys, timeline_detail
from web.sidebar import session
from web.sidebar.blueprint import bp
from web.sidebar.components import components_for
from web.sidebar.oauth import message
from web.sidebar_config import layout

TIMELINE_PAGE = 30
KIND_LABELS = {
    "follow_up": "跟进记录", "added": "添加客户", "lost": "客户删除了成员", "deleted_by_staff": "成员删除了客户",
    "transferred": "客户已转接", "transfer_failed": "转接失败", "fields_changed": "修改了客户信息",
    "acquisition_first_message": "获客链接：首次消息", "acquisition_message": "获客链接：客户消息",
    "deleted": "移入回收站", "restored": "移出回收站", "radar_open": "打开了雷达链接",
}
OUTCOME_LABELS = {"open": "进行中", "won": "赢单", "lost": "输单"}


def _local(at: dt.datetime, zone: ZoneInfo) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _field_text(kind: str, value: Any) -> str:
    if kind == FieldType.multi_select.value and isinstance(value, list):
        return "、".join(map(str, value))
    return str(value)


def _field_row(f: CustomField, value: Any) -> dict[str, Any]:
    """A custom field as the page edits it: the fields a member is shown are the visible ones, which are
    the ones web/field_values.py lets a member write; `input` is the editor's value (a list for a
    multi-select), `text` what is shown."""
    empty = value is None
    return {"key": f.key, "label": f.label, "type": f.type, "options": list(f.options or ()),
            "required": f.required, "text": "" if empty else _field_text(f.type, value),
            "input": ([] if empty else value) if f.type == FieldType.multi_select.value else
            ("" if empty else str(value))}


def timeline(s: Session, c: Customer, zone: ZoneInfo, before: int | None = None,
             names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One page of the timeline, newest first, from before event `before` (exclusive) when given; field
    changes a member may not see are left out (web/scope.py), as in the admin API. `names`: members' names
    already loaded (the followers'); others are looked up."""
    query = select(CustomerEvent.id, CustomerEvent.kind, CustomerEvent.userid, CustomerEvent.detail, CustomerEvent.at
                   ).where(CustomerEvent.customer_id == c.id)  # columns, not entities: a page is 30 rows each time
    if before is not None:
        cursor = s.execute(select(CustomerEvent.at, CustomerEvent.id).where(CustomerEvent.id == before,
                                                                           CustomerEvent.customer_id == c.id)).first()
        if cursor is not None:
            query = query.where(or_(CustomerEvent.at < cursor.at,
                                    and_(CustomerEvent.at == cursor.at, CustomerEvent.id < cursor.id)))
    events = s.execute(query.order_by(CustomerEvent.at.desc(), CustomerEvent.id.desc()).limit(TIMELINE_PAGE)).all()
    hidden = hidden_field_keys(s, c.corp_id)
    names = dict(names or {})
    missing = {e.userid for e in events if e.userid and e.userid not in names}
    if missing:
        names.update(s.execute(select(Staff.userid, Staff.name).where(Staff.corp_id == c.corp_id,
                                                                      Staff.userid.in_(missing))).all())
    entries = []
    for e in events:
        detail = timeline_detail(e.kind, e.detail or {}, hidden)
        if detail is None:
            continue
        if e.kind == "follow_up":
            text = f"{detail.get('type') or '笔记'}：{detail.get('text', '')}"
        elif e.kind == "fields_changed":
            text = "字段：" + "、".join(map(str, detail.get("fields", [])))
        elif e.kind == "radar_open":
            text = f"「{detail.get('title', '')}」"
        else:
            text = ""
        entries.append({"id": e.id, "kind": e.kind, "label": KIND_LABELS.get(e.kind, e.kind), "text": text,
                        "who": names.get(e.userid or "", e.userid or ""), "at": _local(e.at, zone)})
    return entries


def _opportunities(s: Session, c: Customer) -> list[dict[str, Any]]:
    rows = s.execute(select(Opportunity, OpportunityStage).join(OpportunityStage,
                                                                 OpportunityStage.id == Opportunity.stage_id)
                     .where(Opportunity.customer_id == c.id)
                     .order_by(Opportunity.pinned.desc(), Opportunity.updated_at.desc(), Opportunity.id.desc()))
    return [{"name": o.name, "stage": st.name, "outcome": OUTCOME_LABELS.get(st.outcome, st.outcome),
             "probability": st.probability, "amount": f"¥{o.amount_cents / 100:,.2f}",
             "expected_close": o.expected_close.isoformat(), "pinned": o.pinned} for o, st in rows]


def _tag_library(s: Session, corp_id: str) -> list[dict[str, Any]]:
    """The corp's tag groups with their tags that exist in WeCom (a pending one cannot be marked yet)."""
    groups: dict[int, dict[str, Any]] = {}
    for group_pk, group_name, tag_pk, tag_name in s.execute(
            select(TagGroup.id, TagGroup.name, Tag.id, Tag.name).join(Tag, Tag.group_pk == TagGroup.id).where(
                TagGroup.corp_id == corp_id, TagGroup.deleted_at.is_(None), Tag.deleted_at.is_(None),
                ~Tag.tag_id.startswith(PENDING_PREFIX)).order_by(TagGroup.order.desc(), TagGroup.id, Tag.order.desc())):
        groups.setdefault(group_pk, {"name": group_name, "tags": []})["tags"].append({"id": tag_pk, "name": tag_name})
    return list(groups.values())


def profile(s: Session, c: Customer) -> dict[str, Any]:
    """Everything the profile page shows, in a fixed handful of queries whatever the customer's size."""
    x = load_extras(s, [c])
    body = customer_json(c, x)
    me = g.principal.userid
    mine = next((f for f in body["follows"] if f["userid"] == me), None)
    fields = [_field_row(f, body["fields"].get(f.key)) for f in x.fields.get(c.corp_id, [])]
    reasons = s.execute(select(PoolReturnReason.id, PoolReturnReason.name).where(
        PoolReturnReason.corp_id == c.corp_id).order_by(PoolReturnReason.id)).all() \
        if c.owner_userid == me and c.pooled_at is None else []
    types = s.execute(select(FollowUpType.id, FollowUpType.name).where(FollowUpType.corp_id == c.corp_id)
                      .order_by(FollowUpType.position, FollowUpType.id)).all()
    return {
        "customer": body, "type_name": TYPE_NAMES.get(c.type or 0, ""), "mine": mine, "fields": fields,
        "followers": [f for f in body["follows"] if f["status"] == "active"],
        "opportunities": _opportunities(s, c), "library": _tag_library(s, c.corp_id),
        "types": [{"id": t.id, "name": t.name} for t in types],
        "timeline": timeline(s, c, x.zones[c.corp_id], names={u: n for (corp, u), n in x.names.items()
                                                               if corp == c.corp_id}),
        "page_size": TIMELINE_PAGE, "reasons": [{"id": r.id, "name": r.name} for r in reasons],
    }


@bp.get("/")
@session.page
def entry() -> Any:
    """The sidebar's door: its script asks WeCom whom the chat is with, then opens their profile."""
    return render_template("sidebar/entry.html", csrf=g.sidebar.csrf)


@bp.get("/customer")
@session.page
def customer_page() -> Any:
    external_userid = request.args.get("external_userid", "").strip()
    if not external_userid or len(external_userid) > 64:
        return message("未找到客户", "没有指明客户：请从与客户的聊天窗口打开侧边栏。", 400)
    with current_app.extensions["scrm"].Session() as s:
        shown = layout(s, g.sidebar.corp_id)  # 侧边栏配置: the page, its sections and rows, in order
        if "customer" not in shown.pages:
            return message("页面未开放", "管理员没有开放客户详情页。", 404)
        c = s.scalar(_scoped().where(Customer.external_userid == external_userid))
        if c is None:
            return message("未找到客户", "这位客户不在你的客户列表中。", 404)
        return render_template("sidebar/customer.html", csrf=g.sidebar.csrf, sections=shown.sections,
                               info_fields=shown.fields, components=components_for(s, c.corp_id), **profile(s, c))
