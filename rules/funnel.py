"""The sales funnel's figures (003 销售漏斗): what a stage's rank is, and the figures finished from the per-stage
sums the database adds up (web/sales_funnel.py). Pure. The definitions are in the funnel's OpenAPI
description (web/api_sales_reports.py).

A stage's rank is its place in the corp's ladder: the open stages in their order, then won. Lost has no
rank: reaching it is no progress."""

from __future__ import annotations

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


def ranks(stages: list[FunnelStage]) -> dict[int, int]:
    """Stage id → rank (lost has none)."""
    ladder = [s.id for s in stages if s.outcome == "open"] + [s.id for s in stages if s.outcome == "won"]
    return {stage_id: n for n, stage_id in enumerate(ladder)}


def weighted(amount_cents: int, probability: int) -> int:
    """amount × probability / 100 in whole cents, halves rounded up (integers only: no float touches money)."""
    return (amount_cents * probability + 50) // 100


def finish(stages: list[FunnelStage], figures: dict[int, StageFigures]) -> dict[int, StageFigures]:
    """Weighted amounts for every stage; conversion and average days for the open stages a deal reached."""
    for s in stages:
        f = figures.setdefault(s.id, StageFigures())
        f.weighted_cents = weighted(f.amount_cents, s.probability)
        if s.outcome == "open" and f.reached:
            f.conversion = round(f.advanced / f.reached, 4)
            f.avg_days = round(f.seconds / f.reached / DAY_SECONDS, 2)
    return figures


def win_rate(won: int, lost: int) -> float | None:
    """won / (won + lost); None when no deal closed."""
    return round(won / (won + lost), 4) if won + lost else None
