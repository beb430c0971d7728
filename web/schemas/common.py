"""Types every admin-API area shares: ids, bounded numbers, dates and times that stay representable, the
page parameters, and the list and error envelopes.

Bounds are part of the type, so they are in the OpenAPI document and a value past them is a 400/422 that
names the field instead of an OverflowError in the driver or in `datetime` arithmetic (issue 19).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from web.endpoint import MAX_ID

T = TypeVar("T")

# A row id in a query string or a body (path ids use the `id` url converter).
Id = Annotated[int, Field(ge=0, le=MAX_ID)]
# Small counters, minutes and orders: a 32-bit column is enough and portable.
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
CorpId = Annotated[str, StringConstraints(min_length=1, max_length=64)]

# Stored times are UTC; a day or time must leave a day's room on either side so that turning a corp-local
# day into UTC bounds (± 14 h, + 1 day) stays inside what `datetime` and MariaDB's DATETIME can hold.
FIRST_DAY, LAST_DAY = dt.date(1000, 1, 2), dt.date(9999, 12, 30)
RANGE = f"from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day_text(value: Any) -> Any:
    """A day is written YYYY-MM-DD: not a time, not a Unix timestamp (which pydantic would take)."""
    if isinstance(value, dt.date):
        return value
    if not (isinstance(value, str) and DAY.fullmatch(value)):
        raise ValueError("a date as YYYY-MM-DD, e.g. 2026-11-23")
    try:
        return dt.date.fromisoformat(value)  # a date already: strict bodies take no text after this
    except ValueError:
        raise ValueError("a date as YYYY-MM-DD, e.g. 2026-11-23") from None


def _in_range_day(value: dt.date) -> dt.date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"a date {RANGE}")
    return value


def _in_range_time(value: dt.datetime) -> dt.datetime:
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"a time {RANGE}") from None
    _in_range_day(utc.date())
    return utc


Day = Annotated[dt.date, BeforeValidator(_day_text), AfterValidator(_in_range_day),
               Field(description=f"YYYY-MM-DD, {RANGE}")]
Instant = Annotated[dt.datetime, AfterValidator(_in_range_time),
                    Field(description=f"ISO 8601, e.g. 2026-11-23T08:00:00Z (no offset: UTC), {RANGE}")]


class Query(BaseModel):
    """Base of query-string models: unknown parameters are ignored, as browsers and proxies add some."""

    model_config = ConfigDict(extra="ignore")


class PageQuery(Query):
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=200)


class CorpQuery(Query):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")


class Body(BaseModel):
    """Base of request bodies: JSON types are taken as they are (no "5" for 5, no 1 for true); unknown
    keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class CorpBody(Body):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")


class Out(BaseModel):
    """Base of response models. Checked against every answer in the tests (web/endpoint.py), so a key a
    view adds without documenting it fails a test."""

    model_config = ConfigDict(extra="forbid")


class Page(Out, Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int


class Items(Out, Generic[T]):
    """A whole list (no paging): small, bounded collections."""

    items: list[T]
    total: int | None = None


class Deleted(Out):
    id: int
    deleted: bool


class DeletedId(Out):
    deleted: int = Field(description="the id of the row deleted")


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] | None = Field(None, description="field → what is wrong with it")


class Error(BaseModel):
    error: ErrorDetail
