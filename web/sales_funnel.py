"""The funnel's per-stage sums, added up by the database (window functions: SQLite 3.25+, MariaDB 10.2+):
a month of a large corp is ~8,000 deals and ~28,000 stage moves, which cost ~200 ms to read into Python
and walk there, and ~10 rows this way. What the figures mean: the funnel's OpenAPI description."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Select, case, func, literal, select

from models import Opportunity, StageChange
from models.sql_time import epoch_seconds
from rules.funnel import FunnelStage, StageFigures, finish, ranks


def stage_figures(conn: Connection, stages: list[FunnelStage], deals: Select,
                  end: dt.datetime) -> dict[int, StageFigures]:
    """Figures per stage id of the deals `deals` selects (their ids), from their moves before `end`. Days in a
    stage: from entering it to the deal's next move, or to `end` for the stage it is in then; a deal's stints
    in one stage are added up."""
    figures = {s.id: StageFigures() for s in stages}
    rank_of = ranks(stages)
    if not rank_of:
        return finish(stages, figures)
    at = epoch_seconds(StageChange.at)
    by_deal = StageChange.opportunity_id
    moves = select(by_deal.label("deal"), StageChange.to_stage_id.label("stage"), at.label("t"),
                   func.lead(at).over(partition_by=by_deal, order_by=(StageChange.at, StageChange.id)).label("next_t"),
                   func.row_number().over(partition_by=by_deal, order_by=(StageChange.at.desc(), StageChange.id.desc()))
                   .label("from_end")).where(by_deal.in_(deals), StageChange.at < end).cte("moves")
    stage_rank = case(rank_of, value=moves.c.stage)  # NULL for lost
    spent = select(moves.c.deal, moves.c.stage, stage_rank.label("rank"),
                   func.max(stage_rank).over(partition_by=moves.c.deal).label("top"),
                   func.sum(func.coalesce(moves.c.next_t, literal(int(end.timestamp()))) - moves.c.t).label("seconds"),
                   func.max(case((moves.c.from_end == 1, 1), else_=0)).label("last")).group_by(
        moves.c.deal, moves.c.stage).cte("spent")  # one row per deal and stage it reached; `top`: its highest rank
    went_on = func.sum(case((spent.c.rank < spent.c.top, 1), else_=0))
    for stage, reached, seconds, advanced, count, amount in conn.execute(
            select(spent.c.stage, func.count(), func.sum(spent.c.seconds), went_on, func.sum(spent.c.last),
                   func.sum(spent.c.last * Opportunity.amount_cents))
            .join(Opportunity, Opportunity.id == spent.c.deal).group_by(spent.c.stage)):
        f = figures[stage]
        f.reached, f.seconds, f.advanced = int(reached), int(seconds), int(advanced)
        f.count, f.amount_cents = int(count), int(amount)
    return finish(stages, figures)
