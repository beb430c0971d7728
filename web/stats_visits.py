"""Follow-up visit figures (回访报表, 004 §8.2.1 and §9.7) of a period: for each visit day N of the corp's rule
(rules/visits.py), how many customers each member was due to visit on a day of the period (up to today) and
how many of those they did visit on that exact day: a follow-up record by that member on that customer, or a
message that member sent the customer (customer service), between that local day's 00:00 and 24:00.

Read in three queries: the relations added early enough to have a visit in the period (a range of
ix_follow_relations_corp_added), the members' follow-ups on customers in the visit days' span, and their
sent messages in it; days are worked out in Python, a month of a large corp being tens of thousands of rows."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.moderation import calendar_for
from models import Customer, FollowRelation, FollowUp, Message
from models.conversation import MessageOrigin
from models.stats import DEFAULT_VISIT_DAYS, VisitSettings
from rules.calendar import local_midnight
from rules.visits import earliest_added, rate, visit_day
from web.stats_scope import Frame

VisitKey = tuple[int, str, dt.date]  # customer id, member, local day


def visit_rule(s: Session, corp_id: str) -> tuple[list[int], bool]:
    """The corp's visit days and whether they skip days off (the defaults until it sets them)."""
    row = s.scalar(select(VisitSettings).where(VisitSettings.corp_id == corp_id))
    return (row.days(), row.skip_non_workdays) if row is not None else (list(DEFAULT_VISIT_DAYS), False)


def _visited(s: Session, frame: Frame, first: dt.date, last: dt.date, by_external: dict[str, int]) -> set[VisitKey]:
    """(customer, member, local day) of every follow-up and sent message between `first` and `last`."""
    start, end = local_midnight(first, frame.zone), local_midnight(last + dt.timedelta(days=1), frame.zone)
    notes = select(FollowUp.customer_id, FollowUp.userid, FollowUp.at).where(
        FollowUp.corp_id == frame.corp_id, FollowUp.at >= start, FollowUp.at < end, FollowUp.customer_id.is_not(None))
    sent = select(Message.external_userid, Message.userid, Message.send_time).where(
        Message.corp_id == frame.corp_id, Message.send_time >= start, Message.send_time < end,
        Message.origin == MessageOrigin.servicer.value, Message.userid.is_not(None))
    if frame.members is not None:
        notes = notes.where(FollowUp.userid.in_(sorted(frame.members)))
        sent = sent.where(Message.userid.in_(sorted(frame.members)))
    seen = {(cid, userid, at.astimezone(frame.zone).date()) for cid, userid, at in s.execute(notes)}
    seen |= {(by_external[ext], userid, at.astimezone(frame.zone).date()) for ext, userid, at in s.execute(sent)
             if ext in by_external}
    return seen


def visit_figures(s: Session, frame: Frame) -> tuple[list[int], bool, dict[str, list[dict[str, Any]]]]:
    """(visit days, skip days off, member → [{day, due, done, rate}] per visit day)."""
    days, skip = visit_rule(s, frame.corp_id)
    calendar = calendar_for(s, frame.corp_id)[0] if skip else None
    first, last = frame.period.first, min(frame.period.last, frame.today)
    due: dict[tuple[str, int], list[VisitKey]] = defaultdict(list)
    by_external: dict[str, int] = {}
    if first <= last:
        since = local_midnight(earliest_added(first, max(days), calendar), frame.zone)
        rows = select(FollowRelation.customer_id, FollowRelation.userid, FollowRelation.added_at,
                      Customer.external_userid).join(Customer, Customer.id == FollowRelation.customer_id).where(
            FollowRelation.corp_id == frame.corp_id, FollowRelation.added_at >= since,
            FollowRelation.added_at < local_midnight(last, frame.zone))
        if frame.members is not None:
            rows = rows.where(FollowRelation.userid.in_(sorted(frame.members)))
        for cid, userid, added_at, external in s.execute(rows):
            added = added_at.astimezone(frame.zone).date()
            for n in days:
                day = visit_day(added, n, calendar)
                if day is not None and first <= day <= last:
                    due[(userid, n)].append((cid, userid, day))
                    by_external[external] = cid
    seen = _visited(s, frame, first, last, by_external) if due else set()
    members = {userid for userid, _ in due}
    out: dict[str, list[dict[str, Any]]] = {}
    for userid in members:
        figures = []
        for n in days:
            keys = due.get((userid, n), [])
            done = sum(1 for key in keys if key in seen)
            figures.append({"day": n, "due": len(keys), "done": done, "rate": rate(done, len(keys))})
        out[userid] = figures
    return days, skip, out


def no_visits(days: list[int]) -> list[dict[str, Any]]:
    return [{"day": n, "due": 0, "done": 0, "rate": None} for n in days]
