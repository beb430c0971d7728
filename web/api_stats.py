"""The statistics API (数据管理, 004 §8): `GET /stats/customers` (客户分析), `/stats/staff` (员工分析 with 回访),
`/stats/groups` (客户群), and the corp's visit rule (回访设置, §9.7). Read-only figures of a period and scope
(web/stats_scope.py); the dashboard (web/admin/) draws these same answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Role
from models.stats import DEFAULT_VISIT_DAYS, VisitSettings
from web import errors
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.common import CorpQuery
from web.schemas.stats import (CustomerStats, GroupStats, StaffStats, StatsQuery, VisitSettingsBody,
                               VisitSettingsOut)
from web.scope import corp_and_app
from web.stats_customers import customer_stats
from web.stats_groups import group_stats
from web.stats_scope import Frame, frame
from web.stats_staff import staff_stats
from web.stats_visits import visit_rule

bp = Blueprint("api_stats", __name__, url_prefix="/api/v1")
errors.register(bp)

SCOPE = ("Whose figures: by default everyone the caller may see (an admin token: the corp; a member: themself and "
         "the members of the departments they lead); `userid` or `department` narrow it (403 past it). Days: "
         "`from`/`to` or `period`/`date`, corp-local; by default the 30 days ending today.")


def _figures(query: StatsQuery, figures: Callable[[Session, Frame], dict[str, Any]]) -> Any:
    """`figures` of the query's corp, period and members, as JSON."""
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        return jsonify(figures(s, frame(s, corp_id, query)))


@bp.get("/stats/customers")
@require(Role.member)
@endpoint("Customer analysis (客户分析): new, lost and net customers, per day, by channel, source and tag, and "
          "the change on the as many days before", query=StatsQuery, response=CustomerStats, description=SCOPE)
def get_customer_stats(query: StatsQuery) -> Any:
    return _figures(query, customer_stats)


@bp.get("/stats/staff")
@require(Role.member)
@endpoint("Staff analysis (员工分析): per member customers held, added and lost, customer-service chats, first "
          "response, follow-ups, follow-up visit rates (回访) and WeCom's 联系客户统计", query=StatsQuery,
          response=StaffStats, description=SCOPE)
def get_staff_stats(query: StatsQuery) -> Any:
    return _figures(query, staff_stats)


@bp.get("/stats/groups")
@require(Role.member)
@endpoint("Group analysis: per owner groups held and created, customers joined and quit, and WeCom's 群聊数据统计",
          query=StatsQuery, response=GroupStats, description=SCOPE)
def get_group_stats(query: StatsQuery) -> Any:
    return _figures(query, group_stats)


def _visit_json(corp_id: str, days: list[int], skip: bool) -> dict[str, Any]:
    return {"corp_id": corp_id, "days": days, "extra_days": [d for d in days if d not in DEFAULT_VISIT_DAYS],
            "skip_non_workdays": skip}


@bp.get("/stats/visit-settings")
@require(Role.member)
@endpoint("The corp's follow-up visit rule (回访设置): days 1, 3, 5, 7 and its own, and whether days off are "
          "skipped", query=CorpQuery, response=VisitSettingsOut)
def get_visit_settings(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        return jsonify(_visit_json(corp_id, *visit_rule(s, corp_id)))


@bp.put("/stats/visit-settings")
@require(Role.admin)
@endpoint("Set the visit rule: up to two extra visit days (not 1, 3, 5 or 7, not twice), skipping days off of the "
          "working-hours calendar or not", body=VisitSettingsBody, response=VisitSettingsOut)
def put_visit_settings(body: VisitSettingsBody) -> Any:
    taken = [d for d in body.extra_days if d in DEFAULT_VISIT_DAYS]
    if taken or len(set(body.extra_days)) != len(body.extra_days):
        problem = f"days other than {', '.join(map(str, DEFAULT_VISIT_DAYS))}, each once"
        raise ApiError(422, "invalid", f"extra_days: {problem}", {"extra_days": problem})
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        row = s.scalar(select(VisitSettings).where(VisitSettings.corp_id == corp_id))
        if row is None:
            row = VisitSettings(corp_id=corp_id)
            s.add(row)
        row.extra_days, row.skip_non_workdays = sorted(body.extra_days), body.skip_non_workdays
        s.flush()
        audit(s, "visit_settings.update", f"corp:{corp_id}", extra_days=row.extra_days,
              skip_non_workdays=row.skip_non_workdays)
        return jsonify(_visit_json(corp_id, row.days(), row.skip_non_workdays))
