"""Pure decisions about a customer group's members: what groupchat/get says about one member, and which
stints to open, close or correct so our open stints match a member list WeCom answered.

No DB here: `handlers.groups` loads the open stints, asks `plan`, and writes what it says. Kept apart so
the reconciliation (the part a missed event, a replay or a full sync all end in) is tested on its own.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

from models.groups import MemberType

REJOIN_SLACK = dt.timedelta(seconds=60)
"""A member WeCom says joined this much later than our open stint began left and came back while we
missed both events: the old stint is closed at the new join and a new one opened. Within the slack, the
difference is only our event time against WeCom's join_time, and join_time wins."""

DETAIL_FIELDS = ("member_type", "unionid", "name", "group_nickname", "inviter_userid", "join_scene", "join_state")
"""The stint columns groupchat/get is the authority on (joined_at is handled apart, see REJOIN_SLACK)."""


@dataclass(frozen=True)
class SeenMember:
    """One entry of groupchat/get's member_list, as our stint columns name it."""

    member_id: str
    member_type: int
    joined_at: dt.datetime
    join_scene: int | None
    inviter_userid: str
    join_state: str
    name: str
    group_nickname: str
    unionid: str

    def details(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in DETAIL_FIELDS}


@dataclass(frozen=True)
class OpenStint:
    """What the reconciliation needs of one open stint."""

    id: int
    member_id: str
    joined_at: dt.datetime
    details: dict[str, Any]
    customer_id: int | None = None


@dataclass
class Plan:
    """The writes that make the open stints match WeCom's list: `opens` new stints, `closes` stint ids
    to end (the member is gone, or `rejoined`), `updates` stint id → changed columns."""

    opens: list[SeenMember] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)
    rejoined: dict[int, dt.datetime] = field(default_factory=dict)  # stint id → when the new stint began
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.opens) + len(self.closes) + len(self.updates)


EXTERNAL = MemberType.external.value


@functools.lru_cache(maxsize=65536)
def _instant(seconds: int) -> dt.datetime:
    """A Unix time as an aware UTC datetime; cached, since a group's members share join times (a full sync
    converts millions)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _seconds(raw: Any) -> dt.datetime | None:
    if type(raw) is not int:
        try:
            raw = int(raw)
        except (TypeError, ValueError):
            return None
    return _instant(raw) if raw > 0 else None


def seen_member(item: dict[str, Any], fallback: dt.datetime) -> SeenMember:
    """A member_list entry; a missing join_time reads as `fallback` (the time we learnt of it)."""
    member_type = int(item.get("type") or EXTERNAL)
    invitor = item.get("invitor")
    scene = item.get("join_scene")
    return SeenMember(
        member_id=str(item["userid"]), member_type=member_type,
        joined_at=_seconds(item.get("join_time")) or fallback,
        join_scene=scene if type(scene) is int else None,
        inviter_userid=str(invitor.get("userid", ""))[:64] if isinstance(invitor, dict) else "",
        join_state=str(item.get("state", ""))[:64], name=str(item.get("name", ""))[:128],
        group_nickname=str(item.get("group_nickname", ""))[:128],
        unionid=str(item.get("unionid", ""))[:64] if member_type == EXTERNAL else "",
    )


def plan(open_stints: list[OpenStint], seen: list[SeenMember]) -> Plan:
    """Stints to open, close and correct so the open ones are exactly `seen`. A member in both keeps their
    stint (its details corrected where WeCom says otherwise), unless WeCom's join time shows they left and
    came back meanwhile."""
    result = Plan()
    by_member = {stint.member_id: stint for stint in open_stints}
    for member in seen:
        stint = by_member.pop(member.member_id, None)
        if stint is None:
            result.opens.append(member)
            continue
        if member.joined_at > stint.joined_at + REJOIN_SLACK:
            result.closes.append(stint.id)
            result.rejoined[stint.id] = member.joined_at
            result.opens.append(member)
            continue
        changed = {k: v for k, v in member.details().items() if stint.details.get(k) != v}
        if member.joined_at != stint.joined_at:
            changed["joined_at"] = member.joined_at
        if changed:
            result.updates[stint.id] = changed
    result.closes.extend(stint.id for stint in by_member.values())
    return result
