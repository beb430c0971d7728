"""A segment's filters (web/schemas/segment_filters.py) compiled to ONE SQL query over customers: each
criterion is an IN or EXISTS subquery on an indexed column, so a count over a million customers stays a single
round trip and the database picks the most selective criterion to drive it.

Shared by the segments' API (count, pages, static snapshots), the mass messages' audiences and the bench.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from typing import Any

from sqlalchemy import ColumnElement, Numeric, Select, and_, cast, false, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from models import (ChannelCode, Customer, CustomerFieldValue, CustomerGroup, CustomField, FollowRelation, FollowTag,
                    GroupMember, Opportunity, OpportunityStage, Segment, SegmentKind, SegmentMember, Tag)
from models.customer import FollowStatus
from models.db import OPTIMIZER_SWITCH
from models.directory import OrgChart
from models.fields import FieldType
from rules.field_ops import next_day
from handlers.channels import corp_zone
from web.schemas.segment_filters import FieldCondition, SegmentFilters


def tagged(tag_pks: list[int]) -> Select:
    """Ids of customers with any of `tag_pks` on any follow relation (follow_tags' (tag_pk, customer_id) index)."""
    return select(FollowTag.customer_id).where(FollowTag.tag_pk.in_(tag_pks))


def day_bounds(zone: ZoneInfo, start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime | None,
                                                                                     dt.datetime | None]:
    """UTC [start, end) of the corp-local days `start`..`end` (both inclusive; None: open)."""
    return (dt.datetime.combine(start, dt.time(), zone).astimezone(dt.UTC) if start else None,
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC) if end else None)


def in_range(column: ColumnElement[dt.datetime | None] | InstrumentedAttribute[Any],
             bounds: tuple[dt.datetime | None, dt.datetime | None]) -> list[ColumnElement[bool]]:
    low, high = bounds
    return [c for c in (column >= low if low else None, column < high if high else None) if c is not None]


def channel_condition(corp_id: str, names: list[str], code_ids: list[int]) -> ColumnElement[bool]:
    """Came through a channel named one of `names` (the customer's 渠道来源, or a channel code's channel) or
    through one of the channel codes `code_ids`."""
    codes = select(ChannelCode.id).where(ChannelCode.corp_id == corp_id, or_(
        ChannelCode.channel.in_(names), ChannelCode.id.in_(code_ids)))
    return or_(Customer.channel.in_(names), Customer.id.in_(
        select(FollowRelation.customer_id).where(FollowRelation.corp_id == corp_id,
                                                 FollowRelation.channel_code_id.in_(codes))))


def in_departments(session: Session, corp_id: str, departments: list[int]) -> ColumnElement[bool]:
    """A follow relation's member is in one of `departments` or a department below them (OrgChart)."""
    chart = OrgChart.load(session, corp_id)
    members = chart.members_of(chart.below(set(departments)))
    return FollowRelation.userid.in_(sorted(members)) if members else false()


def field_condition(cond: FieldCondition) -> ColumnElement[bool]:
    """Customers whose value of one custom field meets `cond`: the operators of rules/field_ops.py (`matches`
    is their meaning in Python; this is the same in SQL). Only customers with a value can match: the value's
    row is what the IN reads, so "neq" never picks a customer without one."""
    text = CustomerFieldValue.text
    if cond.op == "contains":
        test: ColumnElement[bool] = text.contains(str(cond.value), autoescape=True)
    elif isinstance(cond.value, str):
        if cond.op == "between":
            assert isinstance(cond.to, str)
            test = and_(text >= cond.value, text < next_day(cond.to))
        else:
            test = {"eq": text == cond.value, "neq": text != cond.value, "gte": text >= cond.value,
                    "lte": text <= cond.value}[cond.op]
    else:
        number = cast(text, Numeric(20, 2))
        value = Decimal(str(cond.value))
        test = and_(CustomerFieldValue.field_id.in_(select(CustomField.id).where(
            CustomField.id == cond.field_id, CustomField.type == FieldType.number.value)),
            number.between(value, Decimal(str(cond.to))) if cond.op == "between" else
            {"eq": number == value, "neq": number != value, "gte": number >= value, "lte": number <= value}[cond.op])
    return Customer.id.in_(select(CustomerFieldValue.customer_id).where(
        CustomerFieldValue.field_id == cond.field_id, test))


def segment_conditions(session: Session, corp_id: str, filters: SegmentFilters) -> list[ColumnElement[bool]]:
    """The WHERE clauses of `filters` over `Customer` in `corp_id` (the corp bound and the recycle bin are the
    caller's base query's)."""
    zone = corp_zone(session, corp_id)
    follow = _follow_conditions(session, corp_id, filters, zone)
    conds = _tag_conditions(session, corp_id, filters, follow)
    if filters.channels or filters.channel_code_ids:
        conds.append(channel_condition(corp_id, filters.channels, filters.channel_code_ids))
    if follow and not filters.tags_all:  # with tags_all, the tags' driver checks it (_tag_conditions)
        conds.append(_has(select(FollowRelation.id).where(FollowRelation.customer_id == Customer.id, *follow)))
    conds.extend(in_range(Customer.last_followed_at,
                          day_bounds(zone, filters.followed_up_from, filters.followed_up_to)))
    if filters.stage_ids:
        stages = select(OpportunityStage.id).where(OpportunityStage.corp_id == corp_id,
                                                   OpportunityStage.id.in_(filters.stage_ids))
        conds.append(Customer.id.in_(select(Opportunity.customer_id).where(Opportunity.stage_id.in_(stages))))
    if filters.fields:
        conds.append(Customer.id.in_(select(CustomerFieldValue.customer_id).where(
            CustomerFieldValue.field_id.in_(select(CustomField.id).where(CustomField.corp_id == corp_id)))))
        conds.extend(field_condition(cond) for cond in filters.fields)
    if filters.group_ids:
        groups = select(CustomerGroup.id).where(CustomerGroup.corp_id == corp_id,
                                                CustomerGroup.id.in_(filters.group_ids))
        conds.append(Customer.id.in_(select(GroupMember.customer_id).where(
            GroupMember.group_id.in_(groups), GroupMember.quit_at.is_(None))))
    return conds


def _has(rows: Select) -> ColumnElement[bool]:
    """`rows` has a row, as a scalar subquery (… LIMIT 1) IS NOT NULL rather than EXISTS: MariaDB turns EXISTS
    and IN into semi-joins it may run backwards (a scan of every customer, each looked up in a materialized
    subquery), a scalar subquery it evaluates per row where it stands."""
    return rows.limit(1).scalar_subquery().is_not(None)


def _tag_conditions(session: Session, corp_id: str, filters: SegmentFilters,
                    follow: list[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """tags_all / tags_any / tags_none, over the corp's own tags only (another corp's tag id is carried by
    nobody here), on follow_tags' (tag_pk, customer_id) index.

    tags_all is an intersection, driven by its rarest tag: that tag's range of the index lists the candidates,
    and each is kept only if the index also holds it under every other tag, and (`follow`: the conditions
    one active relation must meet) if it has such a relation; the customers table is read for the survivors
    only. So the work is the rarest tag's size in a narrow index, not a customer row per candidate."""
    named = set(filters.tags_all) | set(filters.tags_any) | set(filters.tags_none)
    if not named:
        return []
    ours = set(session.scalars(select(Tag.id).where(Tag.corp_id == corp_id, Tag.id.in_(named))))
    conds: list[ColumnElement[bool]] = []
    if filters.tags_all:
        if not set(filters.tags_all) <= ours:
            return [false()]
        rarest, *others = _by_rarity(session, set(filters.tags_all))
        driver = aliased(FollowTag)
        checks = [_has(select(FollowTag.id).where(FollowTag.tag_pk == pk, FollowTag.customer_id == driver.customer_id))
                  for pk in others]
        if follow:
            checks.append(_has(select(FollowRelation.id).where(FollowRelation.customer_id == driver.customer_id,
                                                               *follow)))
        conds.append(Customer.id.in_(select(driver.customer_id).where(driver.tag_pk == rarest, *checks)))
    if filters.tags_any:
        any_ours = sorted(set(filters.tags_any) & ours)
        conds.append(Customer.id.in_(tagged(any_ours)) if any_ours else false())
    if none_ours := sorted(set(filters.tags_none) & ours):
        conds.append(Customer.id.not_in(tagged(none_ours)))
    return conds


def _by_rarity(session: Session, tag_pks: set[int]) -> list[int]:
    """`tag_pks`, the one fewest relations carry first (one grouped count over the (tag_pk, follow_id) index)."""
    counts = dict(session.execute(select(FollowTag.tag_pk, func.count()).where(FollowTag.tag_pk.in_(tag_pks))
                                  .group_by(FollowTag.tag_pk)).all())
    return sorted(tag_pks, key=lambda pk: (counts.get(pk, 0), pk))


def _follow_conditions(session: Session, corp_id: str, filters: SegmentFilters,
                       zone: ZoneInfo) -> list[ColumnElement[bool]]:
    """Conditions one active follow relation must meet together: its member, their department, when added."""
    follow: list[ColumnElement[bool]] = []
    if filters.followers:
        follow.append(FollowRelation.userid.in_(filters.followers))
    if filters.departments:
        follow.append(in_departments(session, corp_id, filters.departments))
    follow.extend(in_range(FollowRelation.added_at, day_bounds(zone, filters.added_from, filters.added_to)))
    if follow:
        follow.append(FollowRelation.status == FollowStatus.active.value)
    return follow


PLANNED = {OPTIMIZER_SWITCH: "materialization=off,subquery_cache=off"}
"""The execution options of a segment's query (statements running it as a subquery pass them on). MariaDB would
otherwise materialize the tags' candidate list and scan a customers index against it (1.3 M index reads at a
million customers), and cache each scalar check by a customer id that never repeats; without both it runs the
rarest tag's range, checks each candidate in the indexes and reads the survivors' customer rows by primary key
(0.3 M reads, about 20 % less server CPU: tests/bench/bench_automation.py). SQLite ignores it."""


def segment_customers(session: Session, corp_id: str, filters: SegmentFilters, base: Select | None = None) -> Select:
    """The customers of `corp_id` that `filters` picks: `base` (default: the ids of the corp's customers not
    in the recycle bin; the admin API passes its scoped query, web.api_customers._scoped()) narrowed by
    every criterion. `count_of` counts it."""
    if base is None:
        base = select(Customer.id).where(Customer.deleted_at.is_(None))
    return base.where(Customer.corp_id == corp_id, *segment_conditions(session, corp_id, filters)
                      ).execution_options(**PLANNED)


def saved_segment(session: Session, segment: Segment, base: Select | None = None) -> Select:
    """The customers of a saved segment: a static one's snapshot, a dynamic one's filters now; `base` as in
    `segment_customers` (the admin API's scoped query; default every live customer of the segment's corp)."""
    if base is None:
        base = select(Customer.id).where(Customer.deleted_at.is_(None))
    if segment.kind == SegmentKind.static.value:
        return base.where(Customer.corp_id == segment.corp_id, Customer.id.in_(
            select(SegmentMember.customer_id).where(SegmentMember.segment_id == segment.id)))
    return segment_customers(session, segment.corp_id, SegmentFilters.model_validate(segment.filters), base)


def count_of(session: Session, query: Select) -> int:
    """How many customers a `segment_customers` query picks: one COUNT over the same FROM and WHERE (no
    subquery around it, so the database plans the criteria as it plans the list)."""
    return session.scalar(query.with_only_columns(func.count(Customer.id)).order_by(None)) or 0


def unknown_references(session: Session, corp_id: str, filters: SegmentFilters) -> dict[str, str]:
    """field → what it names that `corp_id` does not have (tags, stages, groups, custom fields, channel codes):
    a saved segment must not silently match nothing."""
    checks = (("tags_all", Tag, filters.tags_all), ("tags_any", Tag, filters.tags_any),
              ("tags_none", Tag, filters.tags_none), ("stage_ids", OpportunityStage, filters.stage_ids),
              ("group_ids", CustomerGroup, filters.group_ids), ("channel_code_ids", ChannelCode,
                                                                 filters.channel_code_ids),
              ("fields", CustomField, [c.field_id for c in filters.fields]))
    problems: dict[str, str] = {}
    for name, model, ids in checks:
        if not ids:
            continue
        known = set(session.scalars(select(model.id).where(model.corp_id == corp_id, model.id.in_(set(ids)))))
        missing = sorted(set(ids) - known)
        if missing:
            problems[name] = f"unknown in this corp: {', '.join(map(str, missing))}"
    return problems
