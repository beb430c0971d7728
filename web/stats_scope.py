"""Whose figures, and which days, a statistics call (web/api_stats.py) covers.

Whose: the members `web.sales_scope.members_in_scope` lets the caller act for (None: the corp, for an admin
token), narrowed by `userid` or `department` (with its sub-departments) within that; naming a member past it
is a 403, an unknown department a 404. Which days: `from`/`to` or `period`/`date` as the sales reports read
them (web/sales_periods.py), by default the 30 corp-local days ending today. Each day is cut at the corp's
local midnight (`bounds`), so a customer added at 23:30 Beijing time counts on that day."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, literal, select
from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from models.db import utcnow
from rules.calendar import local_midnight
from web.errors import ApiError
from web.sales_members import Directory
from web.sales_periods import Window, window
from web.sales_scope import members_in_scope
from web.schemas.stats import StatsQuery

DEFAULT_DAYS = 30
NO_LIMIT = 10**15
"""A LIMIT no answer reaches: see `counted`."""


@dataclass(frozen=True)
class Frame:
    """A statistics call's corp, zone, period and members (None: the whole corp)."""

    corp_id: str
    zone: ZoneInfo
    period: Window
    members: frozenset[str] | None

    @property
    def days(self) -> list[dt.date]:
        count = (self.period.last - self.period.first).days + 1
        return [self.period.first + dt.timedelta(days=n) for n in range(count)]

    @property
    def today(self) -> dt.date:
        return utcnow().astimezone(self.zone).date()

    def previous(self) -> Window:
        """The as many days just before the period (the 环比's "previous")."""
        length = self.period.last - self.period.first + dt.timedelta(days=1)
        first, last = self.period.first - length, self.period.first - dt.timedelta(days=1)
        return Window(first, last, local_midnight(first, self.zone), self.period.start)


class Days:
    """The local days `first` .. `last` of a zone, numbered from 0; `of(epoch)` is the number of the day an
    instant (epoch seconds) falls on (-1 before, len after)."""

    def __init__(self, first: dt.date, last: dt.date, zone: ZoneInfo) -> None:
        self.first = first
        count = (last - first).days + 1
        self.bounds = [int(local_midnight(first + dt.timedelta(days=k), zone).timestamp()) for k in range(count + 1)]

    def of(self, epoch: int) -> int:
        return bisect_right(self.bounds, epoch) - 1

    def number(self, day: dt.date) -> int:
        return (day - self.first).days

    def start(self, k: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.bounds[k], dt.UTC)


def frame(s: Session, corp_id: str, query: StatsQuery) -> Frame:
    zone = corp_zone(s, corp_id)
    if query.from_ is None and query.to is None and query.period is None and query.date is None:
        last = utcnow().astimezone(zone).date()
        first = last - dt.timedelta(days=DEFAULT_DAYS - 1)
        period = Window(first, last, local_midnight(first, zone), local_midnight(last + dt.timedelta(days=1), zone))
    else:
        period = window(s, corp_id, query)
    return Frame(corp_id, zone, period, _members(s, corp_id, query))


def _members(s: Session, corp_id: str, query: StatsQuery) -> frozenset[str] | None:
    if sum((query.userid is not None, query.department is not None, query.all)) > 1:
        raise ApiError(400, "bad_request", "userid: give one of userid, department and all",
                       {"userid": "give one of userid, department and all"})
    allowed = members_in_scope(s, corp_id)
    if query.userid is not None:
        if allowed is not None and query.userid not in allowed:
            raise ApiError(403, "forbidden", f"{query.userid} is not a member whose figures you may see")
        return frozenset({query.userid})
    if query.department is not None:
        directory = Directory.load(s, corp_id)
        chosen = directory.members_of(directory.subtree(query.department))
        return frozenset(chosen if allowed is None else chosen & allowed)
    return None if allowed is None else frozenset(allowed)


def change(current: int, previous: int) -> float | None:
    """环比: (current - previous) / previous, 4 places; None when previous is 0."""
    return round((current - previous) / previous, 4) if previous else None


def counted(column: ColumnElement[Any] | None, *conds: ColumnElement[bool]) -> Select:
    """COUNT(*) of the rows `conds` select, per `column` (None: one count). The rows are picked in a derived
    table with a LIMIT none reaches, which neither SQLite nor MariaDB merges into the outer query: so the
    database reads them through the index on the WHERE's range, not through an index ordered like the GROUP
    BY (SQLite, without ANALYZE statistics, walked ix_follow_relations_corp_id_userid's whole corp to skip a
    sort, 700 ms at 100,000 relations against 1 ms)."""
    if column is None:
        return select(func.count()).select_from(select(literal(1)).where(*conds).limit(NO_LIMIT).subquery())
    rows = select(column.label("who")).where(*conds).limit(NO_LIMIT).subquery()
    return select(rows.c.who, func.count()).group_by(rows.c.who)
