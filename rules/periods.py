"""Report periods (003 仪表盘: 本周 by default, or a custom range): a week (Monday to Sunday), month, quarter or
year holding a given day, or an explicit range of days; all days are the corp's local days, turned into UTC
bounds [start, end) for the stored UTC times. Pure."""

from __future__ import annotations

import datetime as dt
import enum
from zoneinfo import ZoneInfo


class PeriodKind(enum.StrEnum):
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"


def period_start(kind: str, day: dt.date) -> dt.date:
    """The first day of the `kind` period holding `day`."""
    if kind == PeriodKind.week:
        return day - dt.timedelta(days=day.weekday())
    if kind == PeriodKind.year:
        return dt.date(day.year, 1, 1)
    months = 3 if kind == PeriodKind.quarter else 1
    return dt.date(day.year, day.month - (day.month - 1) % months, 1)


def period_days(kind: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the `kind` period holding `day`, both inclusive (ValueError for a period
    that runs past the calendar's end, such as year 9999's last week)."""
    first = period_start(kind, day)
    months = {PeriodKind.month: 1, PeriodKind.quarter: 3, PeriodKind.year: 12}.get(PeriodKind(kind))
    try:
        if months is None:
            return first, first + dt.timedelta(days=6)
        after = dt.date(first.year + (first.month + months - 1) // 12, (first.month + months - 1) % 12 + 1, 1)
        return first, after - dt.timedelta(days=1)
    except (OverflowError, ValueError):
        raise ValueError(f"the {kind} of {day.isoformat()} runs past the calendar") from None


def month_days(text: str) -> tuple[dt.date, dt.date]:
    """The days of month `YYYY-MM` (ValueError if it is not one)."""
    year, _, month = text.partition("-")
    if not (len(year) == 4 and len(month) == 2 and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
        raise ValueError("a month as YYYY-MM, e.g. 2026-11")
    return period_days(PeriodKind.month, dt.date(int(year), int(month), 1))


def utc_bounds(first: dt.date, last: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of the local days `first` to `last` in `zone`: a deal won at 23:30 in Beijing
    counts for that Beijing day."""
    start = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return start, end
