"""Follow-up visits (回访, 004 §9.7): on which corp-local day a member is to visit a customer they added.

Visit day N of a customer added on local day D is D + N ("次日回访" is N = 1), or, with the corp's "skip days
off" on, the N-th working day after D by the working-hours calendar (rules/working_hours.py: a day with no
working range, or a holiday, is off): added on a Friday, the next-day visit is due on Monday. A visit counts
only on that exact day (00:00-24:00 local, whatever the working ranges): a follow-up the day before or after
is not that day's visit. Pure, so the edges are testable."""

from __future__ import annotations

import datetime as dt

from rules.working_hours import Calendar

MAX_SEARCH_DAYS = 800
"""How far a skipping visit day is looked for: a calendar with no working day that far has none."""


def visit_day(added: dt.date, n: int, calendar: Calendar | None) -> dt.date | None:
    """The local day visit `n` of a customer added on `added` falls on; `calendar` None: days off count.
    None when the calendar has no N-th working day within MAX_SEARCH_DAYS."""
    if calendar is None:
        return added + dt.timedelta(days=n)
    day, left = added, n
    for _ in range(MAX_SEARCH_DAYS):
        day += dt.timedelta(days=1)
        if calendar.ranges_on(day):
            left -= 1
            if left == 0:
                return day
    return None


def earliest_added(first: dt.date, longest: int, calendar: Calendar | None) -> dt.date:
    """A day no later than the first added day whose visits (up to day `longest`) can fall on or after
    `first`: customers added before it had every visit due before `first`."""
    if calendar is None:
        return first - dt.timedelta(days=longest)
    day, left = first, longest  # walk back `longest` working days (at most MAX_SEARCH_DAYS calendar days)
    for _ in range(MAX_SEARCH_DAYS):
        if left == 0:
            break
        day -= dt.timedelta(days=1)
        if calendar.ranges_on(day):
            left -= 1
    return day - dt.timedelta(days=1)


def rate(done: int, due: int) -> float | None:
    """done / due, rounded to 4 places; None when nothing was due."""
    return round(done / due, 4) if due else None
