"""Models of web/api_segments.py: customer segments (客户分组 / 人群包, 004 §5.5)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from web.schemas.common import Body, CorpBody, Out, PageQuery, Query
from web.schemas.segment_filters import SegmentFilters

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class SegmentBody(CorpBody):
    name: Name
    kind: Literal["dynamic", "static"] = Field("dynamic", description="dynamic: re-evaluated at every read; "
                                                                      "static: the customers matching now, frozen")
    filters: SegmentFilters = Field(default_factory=lambda: SegmentFilters.model_validate({}))


class SegmentEdit(Body):
    name: Name | None = None
    filters: SegmentFilters | None = Field(None, description="a static segment takes a new snapshot with them")


class FiltersBody(CorpBody):
    filters: SegmentFilters = Field(default_factory=lambda: SegmentFilters.model_validate({}))


class SegmentQuery(PageQuery):
    corp_id: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=64, description="name contains")


class SegmentOut(Out):
    id: int
    corp_id: str
    name: str
    kind: str
    filters: dict[str, Any]
    size: int | None = Field(description="a static segment's members at its snapshot (null: dynamic)")
    refreshed_at: dt.datetime | None = Field(description="a static segment's snapshot time")
    created_by: str
    created_at: dt.datetime | None


class CountOut(Out):
    count: int = Field(description="customers in the segment that this token may see")


class TrendQuery(Query):
    days: int = Field(30, ge=1, le=90, description="the last N corp-local days, today included")


class TagTrend(Out):
    tag_pk: int
    name: str
    counts: list[int] = Field(description="customers of the segment carrying the tag at the end of each day")


class TrendOut(Out):
    days: list[dt.date]
    tags: list[TagTrend]
