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
from collections import Counter
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from handlers.moderation import calendar_for
from models import Customer, FollowRelation, FollowUp, Message
from models.conversation import MessageOrigin
from models.sql_time import epoch_seconds
from models.stats import DEFAULT_VISIT_DAYS, VisitSettings
from rules.visits import earliest_added, rate, visit_day
from rules.working_hours import Calendar
from web.stats_scope import Days, Frame

VisitKey = tuple[int, str, int]  # customer id, member, local day (its number in `Days`)


def visit_rule(s: Session, corp_id: str) -> tuple[list[int], bool]:
    """The corp's visit days and whether they skip days off (the defaults until it sets them)."""
    row = s.scalar(select(VisitSettings).where(VisitSettings.corp_id == corp_id))
    return (row.days(), row.skip_non_workdays) if row is not None else (list(DEFAULT_VISIT_DAYS), False)


def _within(query: Select, column: Any, frame: Frame) -> Select:
    return query if frame.members is None else query.where(column.in_(sorted(frame.members)))


def _visited(s: Session, frame: Frame, span: Days, lo: int, hi: int) -> set[VisitKey]:
    """(customer, member, day) of every follow-up and sent message on the span's days `lo` .. `hi`."""
    start, end = span.start(lo), span.start(hi + 1)
    notes = _within(select(FollowUp.customer_id, FollowUp.userid, epoch_seconds(FollowUp.at)).where(
        FollowUp.corp_id == frame.corp_id, FollowUp.at >= start, FollowUp.at < end), FollowUp.userid, frame)
    # (no customer_id IS NOT NULL in SQL: it would lead SQLite to ix_follow_ups_customer_id_at, every record on
    # a customer; the records on other subjects are dropped here)
    sent = _within(select(Customer.id, Message.userid, epoch_seconds(Message.send_time)).join(Customer, and_(
        Customer.corp_id == Message.corp_id, Customer.external_userid == Message.external_userid)).where(
        Message.corp_id == frame.corp_id, Message.send_time >= start, Message.send_time < end,
        Message.origin == MessageOrigin.servicer.value, Message.userid.is_not(None)), Message.userid, frame)
    conn = s.connection()
    seen = {(cid, userid, span.of(at)) for cid, userid, at in conn.execute(notes).all() if cid is not None}
    seen |= {(cid, userid, span.of(at)) for cid, userid, at in conn.execute(sent).all()}
    return seen


def _visit_numbers(span: Days, days: list[int], calendar: Calendar | None, lo: int,
                   hi: int) -> list[list[tuple[int, int]]]:
    """For each day number of the span, its (visit day N, day number of that visit) that fall on `lo` .. `hi`."""
    out = []
    for k in range(len(span.bounds) - 1):
        added = span.first + dt.timedelta(days=k)
        visits = ((n, visit_day(added, n, calendar)) for n in days)
        out.append([(n, number) for n, v in visits if v is not None and lo <= (number := span.number(v)) <= hi])
    return out


def visit_figures(s: Session, frame: Frame) -> tuple[list[int], bool, dict[str, list[dict[str, Any]]]]:
    """(visit days, skip days off, member → [{day, due, done, rate}] per visit day). Counted, not listed: the
    relations per member and added day give what is due; each follow-up or message of the span is matched to
    the relation it is on (customer and member are unique together) and counts where it is on a visit day."""
    days, skip = visit_rule(s, frame.corp_id)
    calendar = calendar_for(s, frame.corp_id)[0] if skip else None
    first, last = frame.period.first, min(frame.period.last, frame.today)
    if first > last:
        return days, skip, {}
    span = Days(earliest_added(first, max(days), calendar), last, frame.zone)
    lo, hi = span.number(first), span.number(last)
    visits = _visit_numbers(span, days, calendar, lo, hi)
    # (no customers join here: the few sent messages find their customer in _visited, not each relation its
    # external_userid, ~30,000 customer rows a month at 1,000,000 customers)
    rows = _within(select(FollowRelation.customer_id, FollowRelation.userid, epoch_seconds(FollowRelation.added_at))
                   .where(FollowRelation.corp_id == frame.corp_id, FollowRelation.added_at >= span.start(0),
                          FollowRelation.added_at < span.start(hi)), FollowRelation.userid, frame)
    added_on: dict[tuple[int, str], int] = {}
    per_day: Counter[tuple[str, int]] = Counter()
    for cid, userid, added in s.connection().execute(rows).all():
        k = span.of(added)
        if visits[k]:
            added_on[(cid, userid)] = k
            per_day[(userid, k)] += 1
    due: Counter[tuple[str, int]] = Counter()
    for (userid, k), count in per_day.items():
        for n, _ in visits[k]:
            due[(userid, n)] += count
    done: Counter[tuple[str, int]] = Counter()
    for cid, userid, day in _visited(s, frame, span, lo, hi) if due else ():
        on = added_on.get((cid, userid))
        if on is not None:
            done.update((userid, n) for n, visit in visits[on] if visit == day)
    return days, skip, {userid: [{"day": n, "due": due[(userid, n)], "done": done[(userid, n)],
                                  "rate": rate(done[(userid, n)], due[(userid, n)])} for n in days]
                        for userid in {userid for userid, _ in per_day}}


def no_visits(days: list[int]) -> list[dict[str, Any]]:
    return [{"day": n, "due": 0, "done": 0, "rate": None} for n in days]
