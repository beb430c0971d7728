"""The sales funnel's figures (003 销售漏斗) from the deals of a period and their stage history. Pure: the
API (web/api_sales_reports.py) loads the rows and says which deals count; the definitions are in its
OpenAPI description.

A stage's rank is its place in the corp's ladder: the open stages in their order, then won. Lost has no
rank: reaching it is no progress. Times are whole seconds since 1970 (UTC): the report reads tens of
thousands of moves and only subtracts them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class FunnelStage:
    id: int
    outcome: str  # open, won, lost
    probability: int  # percent


@dataclass
class StageFigures:
    count: int = 0  # deals at this stage at the end
    amount_cents: int = 0
    weighted_cents: int = 0
    reached: int = 0  # deals that were at this stage at some time before the end
    advanced: int = 0  # of those, the ones that were also at a stage of a higher rank
    seconds: int = 0  # time those deals spent at this stage, added up
    conversion: float | None = None
    avg_days: float | None = None


def weighted(amount_cents: int, probability: int) -> int:
    """amount × probability / 100 in whole cents, halves rounded up (integers only: no float touches money)."""
    return (amount_cents * probability + 50) // 100


def funnel(stages: list[FunnelStage], amounts: dict[int, int], moves: Iterable[tuple[int, int, int]],
           end: int) -> dict[int, StageFigures]:
    """Figures per stage id for the deals `amounts` (deal → cents) from their `moves` (deal, time, stage
    entered; ordered by deal, then time; only those before `end`, the first being the creation). Days in
    a stage: from entering it to the deal's next move, or to `end` for the stage it is in then; a deal's
    stints in one stage are added up."""
    ladder = [s.id for s in stages if s.outcome == "open"] + [s.id for s in stages if s.outcome == "won"]
    rank = {stage_id: n for n, stage_id in enumerate(ladder)}
    figures = {s.id: StageFigures() for s in stages}

    def close(deal: int, path: list[tuple[int, int]]) -> None:
        """Count one deal's moves (time, stage)."""
        last = path[-1][1]
        figures[last].count += 1
        figures[last].amount_cents += amounts[deal]
        spent: dict[int, int] = {}
        for (at, stage), (after, _) in zip(path, [*path[1:], (end, 0)], strict=True):
            spent[stage] = spent.get(stage, 0) + after - at
        top = max((rank.get(stage, -1) for stage in spent), default=-1)
        for stage, seconds in spent.items():
            f = figures[stage]
            f.reached += 1
            f.seconds += seconds
            if rank.get(stage, top) < top:
                f.advanced += 1

    deal, path = None, []  # type: int | None, list[tuple[int, int]]
    for pk, at, stage in moves:
        if pk != deal:
            if deal is not None:
                close(deal, path)
            deal, path = pk, []
        path.append((at, stage))
    if deal is not None:
        close(deal, path)
    for s in stages:
        f = figures[s.id]
        f.weighted_cents = weighted(f.amount_cents, s.probability)
        if s.outcome == "open" and f.reached:
            f.conversion = round(f.advanced / f.reached, 4)
            f.avg_days = round(f.seconds / f.reached / DAY_SECONDS, 2)
    return figures


def win_rate(won: int, lost: int) -> float | None:
    """won / (won + lost); None when no deal closed."""
    return round(won / (won + lost), 4) if won + lost else None
