"""Calendar windows in a corp's own time zone: a day, the week holding it (Monday first, as Chinese calendars
and ISO 8601 have it) or its month, as UTC bounds for querying times stored in UTC."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from zoneinfo import ZoneInfo


class View(StrEnum):
    day = "day"
    week = "week"
    month = "month"


def first_day(view: View, day: dt.date) -> tuple[dt.date, dt.date]:
    """The first day of `view` around `day` and the first day after it."""
    if view == View.day:
        return day, day + dt.timedelta(days=1)
    if view == View.week:
        monday = day - dt.timedelta(days=day.weekday())
        return monday, monday + dt.timedelta(days=7)
    first = day.replace(day=1)
    return first, (first + dt.timedelta(days=32)).replace(day=1)


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant `day` begins in `zone` (a zone's midnight that a DST jump skips is read forwards)."""
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def window(view: View, day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of the corp-local `view` holding `day`."""
    first, after = first_day(view, day)
    return local_midnight(first, zone), local_midnight(after, zone)
