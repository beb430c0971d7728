"""Which yearly dates (a birthday, a custom date field's month and day) fall on a given day.

A date of 29 February comes on 28 February in a year without a 29th: the customer born on a leap day is
greeted (an SOP date plan) and tagged (a smart-tag birthday condition) on the last day of February, the
day before the 1st of March they would otherwise slip into. In a leap year it comes on the 29th only."""

from __future__ import annotations

import calendar
import datetime as dt

LEAP_DAY = "02-29"


def month_days_on(day: dt.date) -> list[str]:
    """The "MM-DD" of the yearly dates that fall on `day`: its own, and 02-29 on 28 February of a common
    year."""
    own = day.strftime("%m-%d")
    if own == "02-28" and not calendar.isleap(day.year):
        return [own, LEAP_DAY]
    return [own]
