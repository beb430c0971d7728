"""A corp's working-hours calendar (manual 004 §10.2) and the clock that only runs inside it.

The calendar is a week of time ranges (several per day, e.g. 09:00-12:00 and 13:30-18:00) in the corp's
time zone, plus holidays, whole days off. It answers two questions: is this instant working time (the
channel codes' "auto-accept in working hours"), and when does a budget of N working minutes that starts
now run out (the reply-timeout deadline: a message at 17:55 on a Friday with a 10-minute limit is due
at 09:05 on Monday). Ranges are wall-clock times, turned into instants day by day through the zone, so a
zone with daylight saving keeps "09:00" at nine.

Stored and sent over the API as JSON: `{"week": {"mon": [["09:00", "18:00"]], ...}, "holidays":
["2026-10-01", ...]}`; `parse` checks it and names each problem.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RANGES_PER_DAY = 6
MAX_HOLIDAYS = 400
SEARCH_DAYS = 800
"""How far ahead a deadline is looked for; a calendar whose working time lies further away has none."""

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)\Z|^24:00\Z")

Range = tuple[int, int]  # minutes after local midnight, start < end


@dataclass(frozen=True)
class Calendar:
    week: tuple[tuple[Range, ...], ...]  # seven days, Monday first
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    def ranges_on(self, day: dt.date) -> tuple[Range, ...]:
        return () if day in self.holidays else self.week[day.weekday()]

    def contains(self, at: dt.datetime, zone: ZoneInfo) -> bool:
        """Whether the instant `at` (aware) is working time."""
        local = at.astimezone(zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.ranges_on(local.date()))

    def _spans(self, day: dt.date, zone: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
        """The day's working ranges as UTC instants."""
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
        return [(_at(midnight, start, zone), _at(midnight, end, zone)) for start, end in self.ranges_on(day)]

    def add(self, start: dt.datetime, minutes: int, zone: ZoneInfo) -> dt.datetime | None:
        """The instant at which `minutes` of working time counted from `start` have passed; None when the
        calendar has no working time within SEARCH_DAYS. Time before the next range is not counted, so
        a message on Saturday with a 10-minute limit is due at 09:10 on Monday."""
        left = dt.timedelta(minutes=minutes)
        start = start.astimezone(dt.UTC)
        day = start.astimezone(zone).date()
        for _ in range(SEARCH_DAYS):
            for begin, end in self._spans(day, zone):
                begin = max(begin, start)
                if begin >= end:
                    continue
                if begin + left <= end:
                    return begin + left
                left -= end - begin
            day += dt.timedelta(days=1)
        return None

    def public(self) -> dict[str, Any]:
        return {"week": {name: [[_clock(a), _clock(b)] for a, b in ranges]
                         for name, ranges in zip(DAYS, self.week, strict=True)},
                "holidays": sorted(d.isoformat() for d in self.holidays)}


def _at(midnight: dt.datetime, minute: int, zone: ZoneInfo) -> dt.datetime:
    """Local wall-clock minute of the day → UTC (24:00 is the next midnight)."""
    wall = midnight.replace(tzinfo=None) + dt.timedelta(minutes=minute)
    return wall.replace(tzinfo=zone).astimezone(dt.UTC)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _minute(text: Any) -> int | None:
    if not isinstance(text, str) or not _CLOCK.match(text):
        return None
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


DEFAULT = Calendar(week=tuple(((9 * 60, 18 * 60),) if i < 5 else () for i in range(7)))
"""Monday to Friday, 09:00-18:00, no holidays: the calendar of a corp that has not set one."""


def parse(raw: Any) -> tuple[Calendar | None, dict[str, str]]:
    """(calendar, problems by field) from the JSON form; the calendar is None when there are problems."""
    if not isinstance(raw, dict):
        return None, {"body": "a JSON object with week and holidays"}
    problems: dict[str, str] = {}
    unknown = sorted(set(raw) - {"week", "holidays"})
    if unknown:
        problems[unknown[0]] = "unknown field; a calendar has week and holidays"
    week_raw = raw.get("week")
    week: list[tuple[Range, ...]] = []
    if not isinstance(week_raw, dict) or set(week_raw) - set(DAYS):
        problems["week"] = f"an object whose keys are among {', '.join(DAYS)}"
    else:
        for name in DAYS:
            ranges, problem = _day(week_raw.get(name, []))
            if problem:
                problems[f"week.{name}"] = problem
            week.append(ranges)
    holidays_raw = raw.get("holidays", [])
    holidays: set[dt.date] = set()
    if not isinstance(holidays_raw, list) or len(holidays_raw) > MAX_HOLIDAYS:
        problems["holidays"] = f"a list of at most {MAX_HOLIDAYS} dates (YYYY-MM-DD)"
    else:
        for value in holidays_raw:
            try:
                holidays.add(dt.date.fromisoformat(value))
            except (TypeError, ValueError):
                problems["holidays"] = f"{value!r} is not a date (YYYY-MM-DD)"
                break
    if problems:
        return None, problems
    return Calendar(week=tuple(week), holidays=frozenset(holidays)), {}


def _day(raw: Any) -> tuple[tuple[Range, ...], str | None]:
    if not isinstance(raw, list) or len(raw) > MAX_RANGES_PER_DAY:
        return (), f"a list of at most {MAX_RANGES_PER_DAY} [start, end] pairs"
    ranges: list[Range] = []
    for pair in raw:
        if not isinstance(pair, list) or len(pair) != 2:
            return (), 'each range is ["HH:MM", "HH:MM"]'
        start, end = _minute(pair[0]), _minute(pair[1])
        if start is None or end is None or start >= end:
            return (), f"{pair!r}: times are HH:MM (00:00-24:00) and the start comes before the end"
        ranges.append((start, end))
    ranges.sort()
    if any(a[1] > b[0] for a, b in zip(ranges, ranges[1:], strict=False)):
        return (), "ranges overlap"
    return tuple(ranges), None
