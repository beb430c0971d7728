"""The audit log over the admin API (issue 17): every write through the API, the CLI and the bot lands in
`audit_log` (models/auth.py `record_audit`); a super_admin reads it filtered by actor, area, object, action
and time, paged, or as CSV. A corp-bound token sees its corp's rows only (a row without a corp, written by a
corp-less token or before rows had one, only a corp-less token sees)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, g
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models import AuditLog, Role
from web import errors
from web.api import page, time_filter
from web.api_customers import _zone, _zones
from web.auth import require
from web.csv_export import csv_chunks, csv_response, local
from web.endpoint import endpoint
from web.sales_scope import runtime
from web.schemas.common import Page
from web.schemas.roles import AuditOut, AuditQuery
from web.scope import check_corp

bp = Blueprint("api_audit", __name__, url_prefix="/api/v1")
errors.register(bp)

CSV_HEADER = ["时间", "企业", "操作人", "模块", "操作", "对象", "详情"]


def _rows(query: AuditQuery) -> Select:
    """The rows `query` asks for among this token's corp's, newest first."""
    check_corp(query.corp_id)
    rows = select(AuditLog)
    corp_id = g.principal.corp_id or query.corp_id
    if corp_id:
        rows = rows.where(AuditLog.corp_id == corp_id)
    for column, value in ((AuditLog.actor, query.actor), (AuditLog.area, query.area),
                          (AuditLog.action, query.action), (AuditLog.target, query.target)):
        if value:
            rows = rows.where(column == value.strip())
    return time_filter(rows, AuditLog.at, query).order_by(AuditLog.at.desc(), AuditLog.id.desc())


def _json(row: AuditLog) -> dict[str, Any]:
    return {"id": row.id, "at": row.at.isoformat(), "corp_id": row.corp_id, "actor": row.actor, "area": row.area,
            "action": row.action, "target": row.target, "detail": row.detail or {}}


@bp.get("/audit-log")
@require(Role.super_admin)
@endpoint("The audit log: who changed what, newest first; filters are exact (area: the action's part before its "
          "dot)", query=AuditQuery, response=Page[AuditOut])
def list_audit(query: AuditQuery) -> Any:
    return page(_rows(query), _json, query)


@bp.get("/audit-log/export")
@require(Role.super_admin)
@endpoint("The audit log as CSV (UTF-8 with BOM), streamed: the list's filters; times in the corp's zone",
          query=AuditQuery, response=str)
def export_audit(query: AuditQuery) -> Any:
    rows = _rows(query)
    with runtime().Session() as s:
        zones = _zones(s)
    default = _zone(None)

    def render(_: Session, batch: list[AuditLog]) -> list[list[Any]]:
        return [[local(r.at, zones.get(r.corp_id or "", default)), r.corp_id or "", r.actor, r.area, r.action,
                 r.target, json.dumps(r.detail or {}, ensure_ascii=False, sort_keys=True)] for r in batch]

    return csv_response(csv_chunks(runtime(), rows, CSV_HEADER, render),
                        f"audit-log-{dt.datetime.now(dt.UTC):%Y%m%d}.csv")
