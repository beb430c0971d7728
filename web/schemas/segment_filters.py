"""The filter shape of a customer segment (客户分组 / 人群包, 004 §5.5), shared by the segments' API, the mass
messages' audiences and anything else that picks customers by the same criteria. web/segment_query.py
compiles it to one SQL query."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from web.schemas.common import Body, Day, Id, Int32

MAX_ITEMS = 100
MAX_FIELD_TEXT = 40  # 004 §4.6.3: a custom-field condition's text is at most 40 characters
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ChannelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class FieldCondition(Body):
    """A custom field's value: equal or not equal to, containing (text), at least / at most, or between two
    bounds inclusive (numbers to 2 decimal places, dates as YYYY-MM-DD): rules/field_ops.py. A customer
    without a value for the field matches no operator, not even "neq"."""

    field_id: Id = Field(description="one of the corp's customer custom fields")
    op: Literal["eq", "neq", "contains", "gte", "lte", "between"] = "eq"
    value: str | int | float = Field(description=f"text (≤{MAX_FIELD_TEXT} characters; a date as YYYY-MM-DD) or "
                                                 "a number with at most 2 decimal places; for between, the low end")
    to: str | int | float | None = Field(None, description="between only: the high end (inclusive), a number "
                                                           "or a date like `value`")

    @field_validator("value", "to")
    @classmethod
    def _bounded(cls, value: str | int | float | None) -> str | int | float | None:
        if value is None:
            return None
        if isinstance(value, str):
            if not value.strip() or len(value) > MAX_FIELD_TEXT:
                raise ValueError(f"1 to {MAX_FIELD_TEXT} characters")
            return value.strip()
        if isinstance(value, bool) or abs(value) >= 10**15:
            raise ValueError("a number below 10^15")
        if Decimal(str(value)).as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError("at most 2 decimal places")
        return value

    @model_validator(mode="after")
    def _range(self) -> FieldCondition:
        if self.op != "between":
            if self.to is not None:
                raise ValueError("to: only with op between")
            return self
        low, high = self.value, self.to
        if high is None:
            raise ValueError("to: between needs the high end")
        if isinstance(low, str) != isinstance(high, str):
            raise ValueError("between: two numbers or two dates")
        if isinstance(low, str) and isinstance(high, str):
            if not (_is_day(low) and _is_day(high)):
                raise ValueError("between: dates as YYYY-MM-DD")
            if low > high:
                raise ValueError("between: value is after to")
        elif Decimal(str(low)) > Decimal(str(high)):
            raise ValueError("between: value is above to")
        return self


def _is_day(text: str) -> bool:
    try:
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _ids(description: str) -> Any:
    return Field(default_factory=list, max_length=MAX_ITEMS, description=description)


class SegmentFilters(Body):
    """Every criterion given must hold (AND); a list matches any of its items unless it says otherwise.
    Days are the corp's local days (Corp.timezone), both ends inclusive."""

    tags_all: list[Id] = _ids("carries every one of these tags (Tag ids), on any follow relation")
    tags_any: list[Id] = _ids("carries at least one of these tags")
    tags_none: list[Id] = _ids("carries none of these tags")
    channels: list[ChannelName] = _ids("came through a channel of this name (渠道来源 or a channel code's channel)")
    channel_code_ids: list[Id] = _ids("added through one of these channel codes")
    followers: list[Userid] = _ids("followed (active relation) by one of these members")
    departments: list[Int32] = _ids("followed by a member of these departments or those below them")
    added_from: Day | None = Field(None, description="a follow relation added on or after this day")
    added_to: Day | None = Field(None, description="… on or before this day")
    followed_up_from: Day | None = Field(None, description="last follow-up record on or after this day")
    followed_up_to: Day | None = Field(None, description="… on or before this day")
    stage_ids: list[Id] = _ids("has an opportunity at one of these stages")
    fields: list[FieldCondition] = Field(default_factory=list, max_length=20,
                                         description="custom field conditions, all of them")
    group_ids: list[Id] = _ids("a current member of one of these customer groups (CustomerGroup ids)")

    @model_validator(mode="after")
    def _ranges(self) -> SegmentFilters:
        for prefix in ("added", "followed_up"):
            start, end = getattr(self, f"{prefix}_from"), getattr(self, f"{prefix}_to")
            if start and end and start > end:
                raise ValueError(f"{prefix}_from is after {prefix}_to")
        return self
