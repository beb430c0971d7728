"""A smart-tag rule's conditions (web/schemas/smart_tags.py) compiled to one SQL condition over `Customer` (a
group rule's leaves over `CustomerGroup` are handlers/smart_tag_group_sql.py's; the AND/OR groups are shared).

The same condition serves the three ways a rule runs: on an event (narrowed to the event's customers), the
retroactive run and the daily run (narrowed to the customers the rule has not tagged yet). Messages a kf page
is storing in the current transaction are not in the table yet (handlers/moderation.py inserts them at the
commit), so an event passes their texts in `fresh` and a keyword or last-contact condition counts them too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from models import (Customer, CustomerFieldValue, FollowRelation, FollowUp, Message, Opportunity, RadarLink,
                    RadarOpen)
from models.conversation import MessageOrigin
from models.customer import FollowStatus
from rules.anniversary import month_days_on
from web.schemas.smart_tags import Conditions, SubGroup
from web.segment_query import channel_condition, day_bounds, field_condition, in_departments, in_range


@dataclass(frozen=True)
class Scope:
    """What a compilation needs besides the rule: the corp, its local today, now, and the texts of messages
    being stored in this transaction (customer id → texts)."""

    session: Session
    corp_id: str
    zone: ZoneInfo
    now: dt.datetime
    fresh: Mapping[int, Sequence[str]] = field(default_factory=dict)

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(self.zone).date()


def _customer_said() -> Any:
    """The customer's own messages (any door: kf or the app), as an EXISTS to narrow further."""
    return exists().where(Message.external_userid == Customer.external_userid, Message.corp_id == Customer.corp_id,
                          Message.origin == MessageOrigin.customer.value)


def _fresh(scope: Scope, test: Any) -> ColumnElement[bool]:
    ids = [cid for cid, texts in scope.fresh.items() if any(test(t) for t in texts)]
    return Customer.id.in_(ids) if ids else false()


def _active_follow(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(FollowRelation.customer_id == Customer.id,
                          FollowRelation.status == FollowStatus.active.value, *conds)


def _date_field(field_id: int, *conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return Customer.id.in_(select(CustomerFieldValue.customer_id).where(CustomerFieldValue.field_id == field_id,
                                                                        *conds))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _count(model: Any, low: int, high: int | None) -> ColumnElement[bool]:
    counted = select(func.count(model.id)).where(model.customer_id == Customer.id).scalar_subquery()
    return and_(counted >= low, counted <= high) if high is not None else counted >= low


Leaf = Callable[[Scope, Any], ColumnElement[bool]]
"""Compiles one condition of a rule's subject."""


def customer_leaf(scope: Scope, c: Any) -> ColumnElement[bool]:  # noqa: C901  (one branch per condition kind)
    kind = c.kind
    if kind == "keyword":
        said = _customer_said().where(or_(*(Message.content.contains(w, autoescape=True) for w in c.words)))
        return or_(said, _fresh(scope, lambda text: any(w in text for w in c.words)))
    if kind == "channel":
        return channel_condition(scope.corp_id, c.channels, c.channel_code_ids)
    if kind == "gender":
        return Customer.gender.in_(c.genders)
    if kind == "source":
        return _active_follow(FollowRelation.add_way.in_(c.add_ways))
    if kind == "birthday":
        days = [md for n in range(c.within_days + 1) for md in month_days_on(scope.today + dt.timedelta(days=n))]
        return _date_field(c.field_id, func.substr(CustomerFieldValue.text, 6, 5).in_(days))
    if kind == "age":
        conds = []
        if c.max is not None:  # born after the day `max + 1` years ago
            conds.append(CustomerFieldValue.text > _years_before(scope.today, c.max + 1).isoformat())
        if c.min is not None:
            conds.append(CustomerFieldValue.text <= _years_before(scope.today, c.min).isoformat())
        return _date_field(c.field_id, *conds)
    if kind == "last_contact":
        if c.within_days is not None:
            bounds: tuple[dt.datetime | None, dt.datetime | None] = (scope.now - dt.timedelta(days=c.within_days),
                                                                     None)
        else:
            bounds = day_bounds(scope.zone, c.since, c.until)
        low, high = bounds
        now_inside = (low is None or scope.now >= low) and (high is None or scope.now < high)
        return or_(and_(true(), *in_range(Customer.last_followed_at, bounds)),
                   _customer_said().where(*in_range(Message.send_time, bounds)),
                   _fresh(scope, lambda _text: now_inside))
    if kind == "silence":
        cutoff = scope.now - dt.timedelta(days=c.days)
        return and_(or_(Customer.last_followed_at.is_(None), Customer.last_followed_at < cutoff),
                    not_(_customer_said().where(Message.send_time >= cutoff)),
                    Customer.id.not_in(list(scope.fresh)) if scope.fresh else true(),
                    _active_follow(FollowRelation.added_at < cutoff))
    if kind == "follow_ups":
        return _count(FollowUp, c.min, c.max)
    if kind == "opportunities":
        return _count(Opportunity, c.min, c.max)
    if kind == "field":
        return field_condition(c)
    if kind == "department":
        return _active_follow(in_departments(scope.session, scope.corp_id, c.departments))
    if kind == "radar":
        opened = exists().where(RadarOpen.link_id == RadarLink.id)
        links = [RadarLink.material_id.in_(c.material_ids)] if c.material_ids else []
        return exists().where(RadarLink.customer_id == Customer.id, RadarLink.corp_id == scope.corp_id, opened,
                              *links)
    raise ValueError(f"unknown condition kind {kind!r}")


def _group(scope: Scope, match: str, items: list[Any], leaf: Leaf) -> ColumnElement[bool]:
    parts = [_group(scope, i.match, i.conditions, leaf) if isinstance(i, SubGroup) else leaf(scope, i)
             for i in items]
    return and_(*parts) if match == "all" else or_(*parts)


def rule_condition(scope: Scope, conditions: Conditions, leaf: Leaf = customer_leaf) -> ColumnElement[bool]:
    """The rule's conditions as one SQL condition over its subject's table (AND/OR as the groups say)."""
    return _group(scope, conditions.match, list(conditions.conditions), leaf)
