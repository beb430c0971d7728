"""Day arithmetic of the public pool's rules, in the corp's local days (pure, so the edges are testable).

A rule "N days" started at `base` falls due on the local day `local_date(base) + N`: assigned at 23:59
Beijing time on the 1st with N = 3 is due on the 4th, assigned at 00:00 on the 2nd is due on the 5th.
The scan of local day D therefore takes every `base` before local midnight starting day D - N + 1.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def local_day(at: dt.datetime, zone: ZoneInfo) -> dt.date:
    return at.astimezone(zone).date()


def midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant local `day` starts at."""
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def cutoff(today: dt.date, days: int, zone: ZoneInfo) -> dt.datetime:
    """Bases before this instant are due by local day `today` for an N = `days` rule."""
    return midnight(today - dt.timedelta(days=days - 1), zone)


def due_day(base: dt.datetime, days: int, zone: ZoneInfo) -> dt.date:
    return local_day(base, zone) + dt.timedelta(days=days)


def claim_opens(pooled_at: dt.datetime, lock_days: int, zone: ZoneInfo) -> dt.date:
    """The first local day the follower a customer left may claim it back (领取限制, N days)."""
    return local_day(pooled_at, zone) + dt.timedelta(days=lock_days)
