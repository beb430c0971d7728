"""Models of the sales reports and settings (003 仪表盘, 销售目标; 9.9.3 输单原因): lost reasons, the funnel,
sales targets and the per-member follow-up counts. Amounts are integer cents."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints

from models.sales import TargetPeriod
from rules.periods import PeriodKind
from web.schemas.common import Body, CorpBody, CorpQuery, Day, Id, Int32, Out, PageQuery
from web.schemas.sales import Cents, Position, Userid

ReasonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


# -- lost reasons -------------------------------------------------------------------------------------------
class LostReasonBody(CorpBody):
    name: ReasonName
    position: Position | None = Field(None, description="place in the list (default: last)")


class LostReasonChange(Body):
    name: ReasonName | None = None
    position: Position | None = None


class LostReasonOut(Out):
    id: int
    corp_id: str
    name: str
    position: int


# -- scope and period ---------------------------------------------------------------------------------------
class ScopeQuery(CorpQuery):
    userid: str | None = Field(None, min_length=1, max_length=64,
                               description="one member (a member: themself or a member of a department they lead)")
    department: Int32 | None = Field(None, description="a department with its sub-departments")
    all: bool = Field(False, description="everyone the caller may see (admins: the corp)")


class PeriodQuery(ScopeQuery):
    from_: Day | None = Field(None, alias="from", description="first corp-local day (with `to`)")
    to: Day | None = Field(None, description="last corp-local day, inclusive (with `from`)")
    period: PeriodKind | None = Field(None, description="the week (Monday to Sunday), month, quarter or year "
                                                        "holding `date`")
    date: Day | None = Field(None, description="a day of the period (default: today, corp-local)")


class StatsQuery(PeriodQuery):
    month: Month | None = Field(None, description="YYYY-MM: that corp-local month (instead of from/to, period)")


# -- funnel -------------------------------------------------------------------------------------------------
class FunnelQuery(PeriodQuery):
    exclude: list[Id] | None = Field(None, description="stage id to leave out of the list (repeat it); the "
                                                       "other figures do not change")


class FunnelStageOut(Out):
    stage_id: int
    name: str
    outcome: str
    probability: int
    count: int = Field(description="deals at this stage at the end of the period")
    amount_cents: int
    weighted_cents: int = Field(description="amount_cents × probability / 100, halves rounded up")
    reached: int = Field(description="deals that were at this stage at some time before the period's end")
    conversion: float | None = Field(description="of `reached`, the share also at a later stage (open "
                                                 "stages only; null when none reached it)")
    avg_days: float | None = Field(description="average days a deal spent here (open stages only)")


class FunnelOut(Out):
    corp_id: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    userids: list[str] | None = Field(description="whose deals (owners); null: the whole corp")
    stages: list[FunnelStageOut]
    deals: int = Field(description="deals created in the period")
    amount_cents: int
    weighted_cents: int
    won: int = Field(description="deals moved to won in the period")
    lost: int = Field(description="deals moved to lost in the period")
    won_cents: int
    win_rate: float | None = Field(description="won / (won + lost); null when none closed")


# -- targets ------------------------------------------------------------------------------------------------
class TargetBody(CorpBody):
    userid: Userid | None = Field(None, description="a member's target (or department)")
    department: Int32 | None = Field(None, description="a department's target (members of it and of its "
                                                       "sub-departments)")
    period: TargetPeriod
    date: Day = Field(description="any day of the month, quarter or year (stored as its first day)")
    amount_cents: Cents


class TargetChange(Body):
    amount_cents: Cents


class TargetQuery(PageQuery, CorpQuery):
    userid: str | None = Field(None, min_length=1, max_length=64)
    department: Int32 | None = None
    period: TargetPeriod | None = None
    date: Day | None = Field(None, description="targets whose period holds this day")


class TargetOut(Out):
    id: int
    corp_id: str
    userid: str | None
    department: int | None
    period: TargetPeriod
    start: dt.date
    end: dt.date = Field(description="last day, inclusive")
    amount_cents: int
    won_cents: int = Field(description="amount of the deals moved to won in the period (corp-local days), "
                                       "owned by the member, or by a member of the department or its "
                                       "sub-departments")
    completion: float | None = Field(description="won_cents / amount_cents (null for a zero target)")


# -- follow-up counts ---------------------------------------------------------------------------------------
class TypeCount(Out):
    type_id: int | None
    type: str
    count: int


class MemberCount(Out):
    userid: str
    name: str
    total: int
    by_type: list[TypeCount]


class FollowUpStats(Out):
    corp_id: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    items: list[MemberCount]
    total: int

