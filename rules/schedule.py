"""When automation is due, in a corp's own time zone: an SOP step's time after its trigger (004 §5.2), a
repeating task's next round (004 §5.4.1: every workday, a weekday, a day of the month; a period already past
rolls to the next), and moving an instant outside working hours to the next working start (10.2).

Pure functions over aware datetimes; the results are UTC."""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
from zoneinfo import ZoneInfo

from rules.working_hours import Calendar

SEARCH_DAYS = 400


def wall(day: dt.date, minute: int, zone: ZoneInfo) -> dt.datetime:
    """`minute` after local midnight of `day` in `zone`, as UTC."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=zone) + dt.timedelta(minutes=minute)
    return local.replace(tzinfo=None).replace(tzinfo=zone).astimezone(dt.UTC)


def step_due(anchor: dt.datetime, zone: ZoneInfo, *, day: int | None, at_minute: int | None,
             hours_after: int | None) -> dt.datetime:
    """An SOP step's time: `hours_after` the trigger, or `day` days after the trigger's local day (0: that
    day) at `at_minute`."""
    if hours_after is not None:
        return anchor.astimezone(dt.UTC) + dt.timedelta(hours=hours_after)
    assert day is not None and at_minute is not None
    return wall(anchor.astimezone(zone).date() + dt.timedelta(days=day), at_minute, zone)


def in_working_hours(at: dt.datetime, hours: Calendar, zone: ZoneInfo) -> dt.datetime:
    """`at` itself inside working hours, else the next working start (`at` when the calendar has none)."""
    if hours.contains(at, zone):
        return at.astimezone(dt.UTC)
    return hours.add(at, 0, zone) or at.astimezone(dt.UTC)


def _on(repeat: str, repeat_day: int | None, day: dt.date) -> bool:
    if repeat == "workday":
        return day.weekday() < 5
    if repeat == "weekly":
        return day.weekday() == repeat_day
    last = month_calendar.monthrange(day.year, day.month)[1]
    return day.day == min(repeat_day or 1, last)


def next_round(repeat: str, repeat_day: int | None, at_minute: int, after: dt.datetime, zone: ZoneInfo,
               ends_at: dt.datetime | None = None) -> dt.datetime | None:
    """The first issue time of a repeating task at or after `after` (a time already past today rolls to the
    next period), before `ends_at`; None when there is none."""
    day = after.astimezone(zone).date()
    for _ in range(SEARCH_DAYS):
        if _on(repeat, repeat_day, day):
            at = wall(day, at_minute, zone)
            if at >= after:
                return None if ends_at is not None and at >= ends_at else at
        day += dt.timedelta(days=1)
    return None
