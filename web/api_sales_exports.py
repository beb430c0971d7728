"""Follow-up records and opportunities as CSV (`GET /follow-ups/export`, `GET /opportunities/export`): the
list's filters and its scope (a member's file holds the records of the customers they follow, nothing
else), streamed as it is read (web/csv_export.py), and each export in the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, g
from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session
from zoneinfo import ZoneInfo

from models import (Customer, FollowUp, FollowUpAttachment, FollowUpType, LostReason, Opportunity, OpportunityStage,
                    Role, Staff)
from models.followup import SUBJECT_COLUMNS
from web import errors
from web.api_customers import _zone, _zones
from web.api_follow_ups import follow_up_rows
from web.api_opportunities import opportunity_rows
from web.auth import audit, require
from web.csv_export import csv_chunks, csv_response, local
from web.endpoint import endpoint
from web.sales_scope import runtime
from web.schemas.common import Query
from web.schemas.sales import FollowUpFilters, OpportunityFilters

bp = Blueprint("api_sales_exports", __name__, url_prefix="/api/v1")
errors.register(bp)

FOLLOW_UP_HEADER = ["记录ID", "跟进对象", "客户ID", "客户名称", "跟进人", "跟进类型", "跟进内容", "跟进时间", "附件",
                    "来源"]
OPPORTUNITY_HEADER = ["商机ID", "客户ID", "客户名称", "商机名称", "商机阶段", "金额（元）", "预计成交日期", "负责人",
                      "置顶", "输单原因", "创建时间"]


class Lookups:
    """What a batch of rows needs to be readable: customers, staff names, corp time zones."""

    def __init__(self, s: Session, rows: list[Any], userids: Iterable[tuple[str, str]]) -> None:
        ids = {r.customer_id for r in rows}
        self.customers = {c.id: (c.external_userid, c.name) for c in s.execute(
            select(Customer.id, Customer.external_userid, Customer.name).where(Customer.id.in_(ids)))}
        wanted = set(userids)
        self.names = dict(((corp, userid), name) for corp, userid, name in s.execute(
            select(Staff.corp_id, Staff.userid, Staff.name).where(tuple_(Staff.corp_id, Staff.userid).in_(wanted)))
        ) if wanted else {}
        zones = _zones(s)
        self.zones: dict[str, ZoneInfo] = {r.corp_id: zones.get(r.corp_id) or _zone(None) for r in rows}

    def customer(self, customer_id: int | None) -> list[str]:
        return list(self.customers.get(customer_id, ("", "")))

    def name(self, corp_id: str, userid: str) -> str:
        return self.names.get((corp_id, userid)) or userid


def _follow_up_lines(s: Session, rows: list[FollowUp]) -> list[list[Any]]:
    x = Lookups(s, rows, ((f.corp_id, f.userid) for f in rows))
    types: dict[int | None, str] = dict(s.execute(select(FollowUpType.id, FollowUpType.name).where(
        FollowUpType.id.in_({f.type_id for f in rows if f.type_id is not None}))).all())
    files = dict(s.execute(select(FollowUpAttachment.follow_up_id, FollowUpAttachment.filename).where(
        FollowUpAttachment.follow_up_id.in_([f.id for f in rows]))).all())
    return [[f.id, _subject(f), *x.customer(f.customer_id), x.name(f.corp_id, f.userid), types.get(f.type_id, ""),
             f.text, local(f.at, x.zones[f.corp_id]), files.get(f.id, ""), f.via] for f in rows]


SUBJECT_LABELS = {"customer_id": "客户", "lead_id": "线索", "company_id": "企业", "contact_id": "联系人",
                  "group_chat_id": "客户群"}


def _subject(f: FollowUp) -> str:
    """What the record is about, as `客户:12` or `客户群:wr…` (the customer's id and name follow for customers)."""
    column = next(c for c in SUBJECT_COLUMNS if getattr(f, c) is not None)
    return f"{SUBJECT_LABELS[column]}:{getattr(f, column)}"


def _yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _opportunity_lines(s: Session, rows: list[Opportunity]) -> list[list[Any]]:
    x = Lookups(s, rows, ((o.corp_id, o.owner_userid) for o in rows))
    stages = dict(s.execute(select(OpportunityStage.id, OpportunityStage.name).where(
        OpportunityStage.id.in_({o.stage_id for o in rows}))).all())
    reasons = dict(s.execute(select(LostReason.id, LostReason.name).where(
        LostReason.id.in_({o.lost_reason_id for o in rows if o.lost_reason_id is not None}))).all())
    return [[o.id, *x.customer(o.customer_id), o.name, stages.get(o.stage_id, ""), _yuan(o.amount_cents),
             o.expected_close.isoformat(), x.name(o.corp_id, o.owner_userid), "是" if o.pinned else "",
             reasons.get(o.lost_reason_id, "") if o.lost_reason_id else "", local(o.created_at, x.zones[o.corp_id])]
            for o in rows]


def _export(what: str, rows: Select, header: list[str], render: Any, filters: Query) -> Any:
    """Audit the export (who, which filters), then stream it."""
    with runtime().WriteSession.begin() as s:
        audit(s, f"{what}.export", f"corp:{g.principal.corp_id or '*'}",
              filters=filters.model_dump(mode="json", exclude_none=True))
    filename = f"{what.replace('_', '-')}s-{dt.datetime.now(dt.UTC):%Y%m%d}.csv"
    return csv_response(csv_chunks(runtime(), rows, header, render), filename)


@bp.get("/follow-ups/export")
@require(Role.member)
@endpoint("Follow-up records as CSV (UTF-8 with BOM), streamed: the list's filters and scope", query=FollowUpFilters,
          response=str)
def export_follow_ups(query: FollowUpFilters) -> Any:
    return _export("follow_up", follow_up_rows(query), FOLLOW_UP_HEADER, _follow_up_lines, query)


@bp.get("/opportunities/export")
@require(Role.member)
@endpoint("Opportunities as CSV (UTF-8 with BOM), streamed: the list's filters and scope",
          query=OpportunityFilters, response=str)
def export_opportunities(query: OpportunityFilters) -> Any:
    return _export("opportunity", opportunity_rows(query), OPPORTUNITY_HEADER, _opportunity_lines, query)
