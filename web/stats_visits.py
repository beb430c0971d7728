"""Follow-up visit figures (回访报表, 004 §8.2.1 and §9.7) of a period: for each visit day N of the corp's rule
(rules/visits.py), how many customers each member was due to visit on a day of the period (up to today) and
how many of those they did visit on that exact day: a follow-up record by that member on that customer, or a
message that member sent the customer (customer service), between that local day's 00:00 and 24:00.

Read in three queries: the relations added early enough to have a visit in the period (a range of
ix_follow_relations_corp_added), the members' follow-ups in the visit days' span, and their sent messages in
it. Times come as epoch seconds (models/sql_time.py) and are put on their local day by bisecting the span's
local midnights (`Days`: exact across a daylight-saving change), and each added day's visit days are worked
out once: a month of a 1,000,000-customer corp is ~30,000 relations, a few ms of Python each way."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from handlers.moderation import calendar_for
from models import Customer, FollowRelation, FollowUp, Message
from models.conversation import MessageOrigin
from models.sql_time import epoch_seconds
from models.stats import DEFAULT_VISIT_DAYS, VisitSettings
from rules.calendar import local_midnight
from rules.visits import earliest_added, rate, visit_day
from rules.working_hours import Calendar
from web.stats_scope import Frame

VisitKey = tuple[int, str, int]  # customer id, member, local day (its number in `Days`)


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


def visit_rule(s: Session, corp_id: str) -> tuple[list[int], bool]:
    """The corp's visit days and whether they skip days off (the defaults until it sets them)."""
    row = s.scalar(select(VisitSettings).where(VisitSettings.corp_id == corp_id))
    return (row.days(), row.skip_non_workdays) if row is not None else (list(DEFAULT_VISIT_DAYS), False)


def _within(query: Select, column: Any, frame: Frame) -> Select:
    return query if frame.members is None else query.where(column.in_(sorted(frame.members)))


def _visited(s: Session, frame: Frame, span: Days, lo: int, hi: int, by_external: dict[str, int]) -> set[VisitKey]:
    """(customer, member, day) of every follow-up and sent message on the span's days `lo` .. `hi`."""
    start, end = span.start(lo), span.start(hi + 1)
    notes = _within(select(FollowUp.customer_id, FollowUp.userid, epoch_seconds(FollowUp.at)).where(
        FollowUp.corp_id == frame.corp_id, FollowUp.at >= start, FollowUp.at < end), FollowUp.userid, frame)
    # (no customer_id IS NOT NULL in SQL: it would lead SQLite to ix_follow_ups_customer_id_at, every record on
    # a customer; the records on other subjects are dropped here)
    sent = _within(select(Message.external_userid, Message.userid, epoch_seconds(Message.send_time)).where(
        Message.corp_id == frame.corp_id, Message.send_time >= start, Message.send_time < end,
        Message.origin == MessageOrigin.servicer.value, Message.userid.is_not(None)), Message.userid, frame)
    conn = s.connection()
    seen = {(cid, userid, span.of(at)) for cid, userid, at in conn.execute(notes).all() if cid is not None}
    seen |= {(by_external[ext], userid, span.of(at)) for ext, userid, at in conn.execute(sent).all()
             if ext in by_external}
    return seen


def _visit_numbers(span: Days, days: list[int], calendar: Calendar | None) -> list[list[int | None]]:
    """For each day number of the span, its visit days' numbers (None: no such working day)."""
    out = []
    for k in range(len(span.bounds) - 1):
        added = span.first + dt.timedelta(days=k)
        out.append([None if (v := visit_day(added, n, calendar)) is None else span.number(v) for n in days])
    return out


def visit_figures(s: Session, frame: Frame) -> tuple[list[int], bool, dict[str, list[dict[str, Any]]]]:
    """(visit days, skip days off, member → [{day, due, done, rate}] per visit day)."""
    days, skip = visit_rule(s, frame.corp_id)
    calendar = calendar_for(s, frame.corp_id)[0] if skip else None
    first, last = frame.period.first, min(frame.period.last, frame.today)
    if first > last:
        return days, skip, {}
    span = Days(earliest_added(first, max(days), calendar), last, frame.zone)
    lo, hi = span.number(first), span.number(last)
    visits = _visit_numbers(span, days, calendar)
    rows = _within(select(FollowRelation.customer_id, FollowRelation.userid, epoch_seconds(FollowRelation.added_at),
                          Customer.external_userid).join(Customer, Customer.id == FollowRelation.customer_id).where(
        FollowRelation.corp_id == frame.corp_id, FollowRelation.added_at >= span.start(0),
        FollowRelation.added_at < span.start(hi)), FollowRelation.userid, frame)
    due: dict[tuple[str, int], list[VisitKey]] = defaultdict(list)
    by_external: dict[str, int] = {}
    for cid, userid, added, external in s.connection().execute(rows).all():
        for n, visit in zip(days, visits[span.of(added)], strict=True):
            if visit is not None and lo <= visit <= hi:
                due[(userid, n)].append((cid, userid, visit))
                by_external[external] = cid
    seen = _visited(s, frame, span, lo, hi, by_external) if due else set()
    out: dict[str, list[dict[str, Any]]] = {}
    for userid in {userid for userid, _ in due}:
        figures = []
        for n in days:
            keys = due.get((userid, n), [])
            done = len(seen.intersection(keys))
            figures.append({"day": n, "due": len(keys), "done": done, "rate": rate(done, len(keys))})
        out[userid] = figures
    return days, skip, out


def no_visits(days: list[int]) -> list[dict[str, Any]]:
    return [{"day": n, "due": 0, "done": 0, "rate": None} for n in days]
