"""Sales reports (003 仪表盘): the funnel (销售漏斗) and the per-member follow-up counts (联系记录统计), for a
period (web/sales_periods.py) and a scope (web/sales_members.py): by default the caller's own, this week."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from models import FollowUp, FollowUpType, Opportunity, OpportunityStage, Role, StageChange, Staff
from models.db import utcnow
from rules.funnel import FunnelStage, win_rate
from web import errors
from web.auth import require
from web.endpoint import endpoint
from web.schemas.sales_reports import FollowUpStats, FunnelOut, FunnelQuery, StatsQuery
from web.sales_funnel import stage_figures
from web.sales_members import members
from web.sales_periods import Window, window
from web.sales_scope import runtime
from web.scope import corp_and_app

bp = Blueprint("api_sales_reports", __name__, url_prefix="/api/v1")
errors.register(bp)


def _owned(query: Select, owners: frozenset[str] | None) -> Select:
    return query if owners is None else query.where(Opportunity.owner_userid.in_(sorted(owners)))


def _closed(s: Session, corp_id: str, owners: frozenset[str] | None, period: Window,
            won: set[int], lost: set[int]) -> tuple[int, int, int]:
    """(won, lost, won cents): deals whose last move to won or lost in the period went there."""
    closing = select(StageChange.opportunity_id, StageChange.to_stage_id, Opportunity.amount_cents).join(
        Opportunity, Opportunity.id == StageChange.opportunity_id).where(
        StageChange.to_stage_id.in_(won | lost), StageChange.at >= period.start, StageChange.at < period.end,
        Opportunity.corp_id == corp_id)
    rows = s.connection().execute(_owned(closing, owners).order_by(StageChange.at, StageChange.id))
    last = {pk: (stage, amount) for pk, stage, amount in rows}
    wins = [amount for stage, amount in last.values() if stage in won]
    return len(wins), len(last) - len(wins), sum(wins)


@bp.get("/funnel")
@require(Role.member)
@endpoint("The sales funnel (销售漏斗) of a period and scope: per stage count, amount, weighted amount, "
          "conversion and days spent; win rate", query=FunnelQuery, response=FunnelOut)
def get_funnel(query: FunnelQuery) -> Any:
    """Which deals: those **created in the period** (corp-local days), owned by the scope's members, as the
    manual's funnel is "this week's opportunities" spread over the stages; a deal's stage and history are
    read **as of the period's end** (or now, if sooner), so a past period reads the same later and a move
    after the end does not count. Amounts are the deals' current amounts.

    Per stage: `count`/`amount_cents`: those deals at the stage at the end; `weighted_cents`: amount ×
    the stage's probability / 100 (halves rounded up); `reached`: those deals that were at the stage at
    some time (their stage history); `conversion` (open stages): of `reached`, the share that were also at
    a later stage of the ladder (the open stages in order, then won; lost is no progress); `avg_days` (open
    stages): the average over `reached` of the days a deal spent there, from entering to its next move (or to
    the end). `exclude` leaves stages out of the list, nothing else.

    Win rate: of the scope's deals whose move to won or lost happened **in the period** (whenever they were
    created; a deal's last such move in the period counts), won / (won + lost); null when none closed.

    Scope: by default the caller (an admin token without a member: its corp); `userid`, `department` (with
    sub-departments) or `all`, always within what the caller may see: a member, themself and the members of
    the departments they lead (403 past that); an unknown department or member is a 404."""
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        owners = members(s, corp_id, query.userid, query.department, query.all)
        period = window(s, corp_id, query)
        stages = list(s.scalars(select(OpportunityStage).where(OpportunityStage.corp_id == corp_id)
                                .order_by(OpportunityStage.position, OpportunityStage.id)))
        horizon = min(period.end, utcnow())
        deals = _owned(select(Opportunity.id).where(Opportunity.corp_id == corp_id,
                                                    Opportunity.created_at >= period.start,
                                                    Opportunity.created_at < period.end), owners)
        figures = stage_figures(s.connection(), [FunnelStage(st.id, st.outcome, st.probability) for st in stages],
                                deals, horizon)
        won, lost, won_cents = _closed(s, corp_id, owners, period, {st.id for st in stages if st.outcome == "won"},
                                       {st.id for st in stages if st.outcome == "lost"})
    hidden = set(query.exclude or [])
    return jsonify({
        "corp_id": corp_id, "from": period.first.isoformat(), "to": period.last.isoformat(),
        "userids": None if owners is None else sorted(owners),
        "stages": [{"stage_id": st.id, "name": st.name, "outcome": st.outcome, "probability": st.probability,
                    "count": f.count, "amount_cents": f.amount_cents, "weighted_cents": f.weighted_cents,
                    "reached": f.reached, "conversion": f.conversion, "avg_days": f.avg_days}
                   for st in stages if st.id not in hidden for f in [figures[st.id]]],
        "deals": sum(f.count for f in figures.values()),
        "amount_cents": sum(f.amount_cents for f in figures.values()),
        "weighted_cents": sum(f.weighted_cents for f in figures.values()),
        "won": won, "lost": lost, "won_cents": won_cents, "win_rate": win_rate(won, lost)})


@bp.get("/follow-ups/stats")
@require(Role.member)
@endpoint("Follow-up counts per member and type (联系记录统计) for a month or period, in the report's scope",
          query=StatsQuery, response=FollowUpStats)
def follow_up_stats(query: StatsQuery) -> Any:
    """Counts the follow-up records written (`at`) in the period's corp-local days by each member of the
    scope (as for the funnel: by default the caller; `userid`, `department`, `all`; a member sees themself
    and the members of departments they lead). Every member of the scope is listed, those without records
    with 0; most records first."""
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        writers = members(s, corp_id, query.userid, query.department, query.all)
        period = window(s, corp_id, query, query.month)
        counts = select(FollowUp.userid, FollowUp.type_id, func.count()).where(
            FollowUp.corp_id == corp_id, FollowUp.at >= period.start, FollowUp.at < period.end)
        staff = select(Staff.userid, Staff.name).where(Staff.corp_id == corp_id)
        if writers is not None:
            counts = counts.where(FollowUp.userid.in_(sorted(writers)))
            staff = staff.where(Staff.userid.in_(sorted(writers)))
        by_member: dict[str, dict[int | None, int]] = defaultdict(dict)
        for userid, type_id, count in s.execute(counts.group_by(FollowUp.userid, FollowUp.type_id)):
            by_member[userid][type_id] = count
        names: dict[str, str] = {userid: name for userid, name in s.execute(staff)}
        types: dict[int, str] = {pk: name for pk, name in s.execute(
            select(FollowUpType.id, FollowUpType.name).where(FollowUpType.corp_id == corp_id))}
    everyone = set(by_member) | set(names) | set(writers or ())
    items = [{"userid": userid, "name": names.get(userid, ""), "total": sum(by_member[userid].values()),
              "by_type": [{"type_id": t, "type": types.get(t, "") if t is not None else "", "count": n}
                          for t, n in sorted(by_member[userid].items(), key=lambda tn: (-tn[1], tn[0] or 0))]}
             for userid in everyone]
    items.sort(key=lambda item: (-int(item["total"]), str(item["userid"])))  # type: ignore[call-overload]
    return jsonify({"corp_id": corp_id, "from": period.first.isoformat(), "to": period.last.isoformat(),
                    "items": items, "total": len(items)})
