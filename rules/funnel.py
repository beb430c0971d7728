"""The sales funnel's figures (003 销售漏斗) from the deals of a period and their stage history. Pure: the
API (web/api_sales_reports.py) loads the rows and says which deals count; the definitions are in its
OpenAPI description.

A stage's rank is its place in the corp's ladder: the open stages in their order, then won. Lost has no
rank: reaching it is no progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class FunnelStage:
    id: int
    outcome: str  # open, won, lost
    probability: int  # percent


@dataclass(frozen=True)
class Move:
    """A deal entering stage `to` at `at` (its first move is its creation)."""

    at: dt.datetime
    to: int


@dataclass
class StageFigures:
    count: int = 0  # deals at this stage at the end
    amount_cents: int = 0
    weighted_cents: int = 0
    reached: int = 0  # deals that were at this stage at some time before the end
    advanced: int = 0  # of those, the ones that were also at a stage of a higher rank
    conversion: float | None = None
    avg_days: float | None = None
    _days: list[float] = field(default_factory=list, repr=False)


def weighted(amount_cents: int, probability: int) -> int:
    """amount × probability / 100 in whole cents, halves rounded up (integers only: no float touches money)."""
    return (amount_cents * probability + 50) // 100


def funnel(stages: list[FunnelStage], deals: Iterable[tuple[int, list[Move]]],
           end: dt.datetime) -> dict[int, StageFigures]:
    """Figures per stage id for `deals` ((amount in cents, moves)), as of `end`: moves at or after `end` are
    ignored, so a past period reads the same later. Days in a stage: from entering it to the next move, or
    to `end` for the stage a deal is in then; a deal's stints in one stage are added up."""
    rank = {s.id: n for n, s in enumerate([s for s in stages if s.outcome == "open"]
                                          + [s for s in stages if s.outcome == "won"])}
    figures = {s.id: StageFigures() for s in stages}
    for amount, moves in deals:
        moves = sorted((m for m in moves if m.at < end), key=lambda m: m.at)
        if not moves:
            continue
        figures[moves[-1].to].count += 1
        figures[moves[-1].to].amount_cents += amount
        days: dict[int, float] = {}
        for move, after in zip(moves, [*(m.at for m in moves[1:]), end], strict=True):
            days[move.to] = days.get(move.to, 0.0) + (after - move.at).total_seconds() / DAY_SECONDS
        top = max((rank[s] for s in days if s in rank), default=-1)
        for stage_id, spent in days.items():
            figures[stage_id].reached += 1
            figures[stage_id].advanced += stage_id in rank and rank[stage_id] < top
            figures[stage_id]._days.append(spent)
    for s in stages:
        f = figures[s.id]
        f.weighted_cents = weighted(f.amount_cents, s.probability)
        if s.outcome == "open" and f.reached:
            f.conversion = round(f.advanced / f.reached, 4)
            f.avg_days = round(sum(f._days) / len(f._days), 2)
    return figures


def win_rate(won: int, lost: int) -> float | None:
    """won / (won + lost); None when no deal closed."""
    return round(won / (won + lost), 4) if won + lost else None
