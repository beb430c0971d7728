"""Models of web/api_channels.py and web/api_channel_report.py: channels (渠道, manual 9.14) and their report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from web.schemas.common import Body, CorpBody, CorpQuery, Day, Id, Out, PageQuery

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]


class ChannelIn(CorpBody):
    name: Name
    scene: Name = Field(description="the use scene (使用场景), required")
    code_ids: list[Id] = Field([], max_length=1000, description="channel codes (员工活码) grouped under it")
    group_code_ids: list[Id] = Field([], max_length=1000, description="group codes (群活码) grouped under it")


class ChannelChange(Body):
    """What is given changes; code_ids / group_code_ids replace the grouping."""

    name: Name | None = None
    scene: Name | None = None
    code_ids: list[Id] | None = Field(None, max_length=1000)
    group_code_ids: list[Id] | None = Field(None, max_length=1000)


class ChannelQuery(PageQuery, CorpQuery):
    keyword: str | None = Field(None, max_length=30, description="name or scene contains")


class ChannelOut(Out):
    id: int
    corp_id: str
    name: str
    scene: str
    code_ids: list[int]
    group_code_ids: list[int]
    customers_added: int = Field(description="adds through its channel codes, ever")
    last_added_at: dt.datetime | None = Field(description="the latest add through its channel codes")
    created_at: dt.datetime



def _seven_or_thirty(days: int) -> int:
    if days not in (7, 30):
        raise ValueError("7 or 30")
    return days


class ChannelReportQuery(CorpQuery):
    days: Annotated[int, AfterValidator(_seven_or_thirty)] = Field(
        30, description="the last 7 or 30 corp-local days, today included")
    from_: Day | None = Field(None, alias="from", description="with `to`: a range of corp-local days instead")
    to: Day | None = None


class ReportDay(Out):
    day: dt.date
    adds: int
    losses: int = Field(description="customers of its codes lost that day (deleted by staff or by the customer)")
    net: int


class ChannelReport(Out):
    channel_id: int
    first: dt.date
    last: dt.date
    adds: int
    losses: int
    net: int
    days: list[ReportDay]
