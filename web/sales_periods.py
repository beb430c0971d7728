"""The period a sales report covers, read from its query string: `from`/`to`, or `period` with `date`, or
(follow-up counts) `month`; by default this week, as 003's 仪表盘 opens on 本周. Days are the corp's local days
(Corp.timezone); a bad combination is a 400 naming the parameter, as any bad query string is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from models.db import utcnow
from rules.periods import PeriodKind, month_days, period_days, utc_bounds
from web.errors import ApiError
from web.schemas.common import FIRST_DAY, LAST_DAY, RANGE
from web.schemas.sales_reports import PeriodQuery

MAX_DAYS = 3660  # ten years: enough for any report, small enough for a query to stay quick


@dataclass(frozen=True)
class Window:
    first: dt.date  # corp-local, inclusive
    last: dt.date
    start: dt.datetime  # UTC, [start, end)
    end: dt.datetime


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "bad_request", f"{field}: {message}", {field: message})


def in_calendar(kind: str, day: dt.date, refuse: Callable[[str], ApiError]) -> tuple[dt.date, dt.date]:
    """`period_days`, refused (`refuse(message)`) when the period reaches past the days the API takes, whose
    UTC bounds every backend can hold."""
    try:
        first, last = period_days(kind, day)
    except ValueError as exc:
        raise refuse(str(exc)) from None
    if not (FIRST_DAY <= first and last <= LAST_DAY):
        raise refuse(f"a period {RANGE}")
    return first, last


def window(s: Session, corp_id: str, query: PeriodQuery, month: str | None = None) -> Window:
    zone = corp_zone(s, corp_id)
    if (query.from_ is None) != (query.to is None):
        raise _bad("from" if query.from_ is None else "to", "from and to go together")
    ways = sum((query.from_ is not None, query.period is not None or query.date is not None, month is not None))
    if ways > 1:
        raise _bad("period", "give one of from/to, period/date and month")
    if month is not None:
        try:
            first, last = month_days(month)
        except ValueError as exc:
            raise _bad("month", str(exc)) from None
        if not (FIRST_DAY <= first and last <= LAST_DAY):
            raise _bad("month", f"a month {RANGE}")
    elif query.from_ is not None and query.to is not None:
        first, last = query.from_, query.to
        if first > last:
            raise _bad("from", "after to")
        if (last - first).days >= MAX_DAYS:
            raise _bad("to", f"a range of at most {MAX_DAYS} days")
    else:
        first, last = in_calendar(query.period or PeriodKind.week, query.date or utcnow().astimezone(zone).date(),
                                  lambda message: _bad("date", message))
    return Window(first, last, *utc_bounds(first, last, zone))
