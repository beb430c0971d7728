"""Who a mass message reaches and through whom (004 §5.1.2): the audience (a segment, or include/exclude
filters; for groups, the owners' groups) read in the requesting token's scope, each customer's sender, and the
corp's monthly cap.

Customers are read only through `web.api_customers._scoped()` and groups through `web.group_scope.group_rows()`,
so data scopes apply as everywhere else; both need a request context with the principal (the send job replays
the creator's: jobs/mass_send.py).

The sender of a customer is their 跟进人 (Customer.owner_userid) while that member still follows them, else the
member who added them first among those still following: one sender per customer, so a customer followed by
several members gets the message once. A customer no member follows is left out (`no_sender`). A group's sender
is its owner.

The cap: a customer who received `CorpSettings.mass_monthly_cap` messages this corp-local month (recipients not
left out before the call, models/mass_message.py UNCOUNTED) is left out (`capped`) and counted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, exists, func, not_, select
from sqlalchemy.orm import Session

from models import Corp, CorpSettings, Customer, CustomerGroup, FollowRelation, FollowStatus, FollowTag, Tag
from models.mass_message import UNCOUNTED, MassRecipient
from web.api_customers import _channel_filter, _day_range, _scoped
from web.errors import ApiError
from web.group_scope import group_rows
from web.schemas.mass_messages import Audience, Filters

DEFAULT_CAP = 4


@dataclass
class Plan:
    """The recipients of a message: sender → [(customer id or None for a group, external_userid or chat_id)],
    and those left out."""

    by_sender: dict[str, list[tuple[int | None, str]]] = field(default_factory=dict)
    capped: list[tuple[int, str]] = field(default_factory=list)
    no_sender: list[tuple[int, str]] = field(default_factory=list)
    cap: int = DEFAULT_CAP

    @property
    def target(self) -> int:
        return sum(len(rows) for rows in self.by_sender.values())


def segment_customers(segment_id: int) -> Select:
    """The customer ids of segment `segment_id`. Segments (客户分组) are issue 16's item 2, built apart:
    at merge this returns that segment query; until then no segment exists to name."""
    raise ApiError(422, "invalid", f"no segment {segment_id}", {"audience.segment_id": "unknown segment"})


def _tagged(pks: list[int]) -> ColumnElement[bool]:
    return exists().where(FollowTag.follow_id == FollowRelation.id, FollowTag.tag_pk.in_(pks),
                          FollowRelation.customer_id == Customer.id)


def _conditions(f: Filters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.tags_any:
        conds.append(_tagged(f.tags_any))
    conds += [_tagged([pk]) for pk in sorted(set(f.tags_all or []))]
    if f.tags_none:
        conds.append(not_(_tagged(f.tags_none)))
    if f.followers:
        conds.append(Customer.follows.any(and_(FollowRelation.userid.in_(f.followers),
                                               FollowRelation.status == FollowStatus.active.value)))
    added = _day_range(FollowRelation.corp_id, FollowRelation.added_at, f.added_from, f.added_to, "added")
    if added is not None:
        conds.append(Customer.follows.any(added))
    if f.channel:
        channel = _channel_filter(select(Customer.id), f.channel).whereclause
        if channel is not None:
            conds.append(channel)
    return conds


def _check_tags(s: Session, corp_id: str, audience: Audience) -> None:
    pks = {pk for f in (audience.include, audience.exclude) if f
           for pk in (f.tags_any or []) + (f.tags_all or []) + (f.tags_none or [])}
    if pks:
        known = set(s.scalars(select(Tag.id).where(Tag.id.in_(pks), Tag.corp_id == corp_id, Tag.deleted_at.is_(None))))
        if pks - known:
            raise ApiError(422, "invalid", f"unknown tag {', '.join(map(str, sorted(pks - known)))}",
                           {"audience": "unknown tag"})


def customer_ids(s: Session, corp_id: str, audience: Audience) -> Select:
    """Ids of the corp's customers in the audience, in this token's scope."""
    _check_tags(s, corp_id, audience)
    rows = _scoped().order_by(None).with_only_columns(Customer.id).where(Customer.corp_id == corp_id)
    if audience.segment_id is not None:
        rows = rows.where(Customer.id.in_(segment_customers(audience.segment_id)))
    if audience.include:
        rows = rows.where(*_conditions(audience.include))
    exclude = _conditions(audience.exclude) if audience.exclude else []
    if exclude:
        rows = rows.where(not_(and_(*exclude)))
    return rows


def month_start(s: Session, corp_id: str, now: dt.datetime) -> dt.datetime:
    """The start of `now`'s corp-local month, in UTC."""
    zone = ZoneInfo(s.scalar(select(Corp.timezone).where(Corp.corp_id == corp_id)) or "Asia/Shanghai")
    local = now.astimezone(zone)
    return dt.datetime(local.year, local.month, 1, tzinfo=zone).astimezone(dt.UTC)


def monthly_cap(s: Session, corp_id: str) -> int:
    cap = s.scalar(select(CorpSettings.mass_monthly_cap).where(CorpSettings.corp_id == corp_id))
    return DEFAULT_CAP if cap is None else cap


def _at_cap(s: Session, corp_id: str, ids: Select, now: dt.datetime, cap: int) -> set[int]:
    rows = select(MassRecipient.customer_id).where(
        MassRecipient.corp_id == corp_id, MassRecipient.at >= month_start(s, corp_id, now),
        MassRecipient.status.not_in(UNCOUNTED), MassRecipient.customer_id.in_(ids.subquery().select())
    ).group_by(MassRecipient.customer_id).having(func.count() >= cap)
    return set(s.scalars(rows))


def plan(s: Session, corp_id: str, chat_type: str, audience: Audience, now: dt.datetime) -> Plan:
    """Senders and recipients of a message to `audience` sent at `now` (see the module docstring)."""
    out = Plan(cap=monthly_cap(s, corp_id))
    if chat_type == "group":
        groups = group_rows().order_by(None).where(CustomerGroup.corp_id == corp_id,
                                                   CustomerGroup.dismissed_at.is_(None))
        if audience.owners:
            groups = groups.where(CustomerGroup.owner_userid.in_(audience.owners))
        for chat_id, owner in s.execute(groups.with_only_columns(CustomerGroup.chat_id, CustomerGroup.owner_userid)
                                        .order_by(CustomerGroup.id)):
            out.by_sender.setdefault(owner, []).append((None, chat_id))
        return out
    ids = customer_ids(s, corp_id, audience)
    capped = _at_cap(s, corp_id, ids, now, out.cap) if out.cap else None
    follows = select(Customer.id, Customer.external_userid, Customer.owner_userid, FollowRelation.userid).outerjoin(
        FollowRelation, and_(FollowRelation.customer_id == Customer.id,
                             FollowRelation.status == FollowStatus.active.value)
    ).where(Customer.id.in_(ids.subquery().select())).order_by(Customer.id, FollowRelation.added_at, FollowRelation.id)
    current: tuple[int, str, str | None] | None = None  # (customer id, external_userid, owner)
    followers: list[str] = []

    def settle() -> None:
        if current is None:
            return
        cid, ext, owner = current
        if capped is None or cid in capped:
            out.capped.append((cid, ext))
        elif not followers:
            out.no_sender.append((cid, ext))
        else:
            sender = owner if owner is not None and owner in followers else followers[0]
            out.by_sender.setdefault(sender, []).append((cid, ext))

    for row in s.execute(follows):
        if current is None or current[0] != row.id:
            settle()
            current, followers = (row.id, row.external_userid, row.owner_userid), []
        if row.userid:
            followers.append(row.userid)
    settle()
    return out
