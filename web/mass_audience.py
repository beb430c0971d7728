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

from sqlalchemy import Select, and_, func, not_, select
from sqlalchemy.orm import Session

from models import Corp, CorpSettings, Customer, CustomerGroup, FollowRelation, FollowStatus
from models.mass_message import UNCOUNTED, MassRecipient
from models.segments import Segment
from web.api_customers import _scoped
from web.errors import ApiError
from web.group_scope import group_rows
from web.schemas.mass_messages import Audience
from web.segment_query import PLANNED, saved_segment, segment_conditions, unknown_references

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


def _references(s: Session, corp_id: str, audience: Audience) -> None:
    """422 naming what the audience names that the corp does not have (a segment, a tag, …): a message must not
    silently reach nobody."""
    problems = {f"audience.{side}.{name}": what for side in ("include", "exclude")
                if (filters := getattr(audience, side)) is not None
                for name, what in unknown_references(s, corp_id, filters).items()}
    if audience.segment_id is not None and s.scalar(select(Segment.id).where(
            Segment.id == audience.segment_id, Segment.corp_id == corp_id)) is None:
        problems["audience.segment_id"] = f"no segment {audience.segment_id} in this corp"
    if problems:
        raise ApiError(422, "invalid", "; ".join(f"{k}: {v}" for k, v in problems.items()), problems)


def customer_ids(s: Session, corp_id: str, audience: Audience) -> Select:
    """Ids of the corp's customers in the audience, in this token's scope."""
    _references(s, corp_id, audience)
    rows = _scoped().order_by(None).with_only_columns(Customer.id).where(Customer.corp_id == corp_id)
    if audience.segment_id is not None:
        rows = rows.where(Customer.id.in_(saved_segment(s, s.get_one(Segment, audience.segment_id))))
    if audience.include:
        rows = rows.where(*segment_conditions(s, corp_id, audience.include))
    exclude = segment_conditions(s, corp_id, audience.exclude) if audience.exclude else []
    if exclude:
        rows = rows.where(not_(and_(*exclude)))
    return rows.execution_options(**PLANNED)


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
    ).where(Customer.id.in_(ids.subquery().select())).order_by(Customer.id, FollowRelation.added_at, FollowRelation.id
               ).execution_options(**ids.get_execution_options())
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
