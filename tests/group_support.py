"""What the customer-group tests share: driving a group's life in the fake WeCom over HTTP, and reading
our rows back in a form a test compares (stints as tuples, a whole-table snapshot for "changed nothing")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from sqlalchemy import select

from models import Customer
from models.groups import CustomerGroup, GroupMember
from support import CORP_ID

DAY = 86_400
T0 = 1_790_000_000  # 2026-09-21, a fixed past time so stints can be checked to the second


def fake_group(fake_url: str, route: str, callback: bool = True, **body: Any) -> dict[str, Any]:
    """POST a /fake/groups… control route; its answer (chat_id, member_version, callback status, xml)."""
    r = requests.post(f"{fake_url}/fake/groups{route}", json={"corpid": CORP_ID, **body, "callback": callback},
                      timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def stints(s: Any, chat_id: str) -> list[tuple[Any, ...]]:
    """(member_id, joined_at, quit_at, join_scene, quit_scene) of every stint of the group, in order."""
    rows = s.execute(select(GroupMember.member_id, GroupMember.joined_at, GroupMember.quit_at,
                            GroupMember.join_scene, GroupMember.quit_scene)
                     .join(CustomerGroup, CustomerGroup.id == GroupMember.group_id)
                     .where(CustomerGroup.chat_id == chat_id).order_by(GroupMember.id))
    return [tuple(r) for r in rows]


def group_row(s: Any, chat_id: str) -> CustomerGroup:
    group = s.scalar(select(CustomerGroup).where(CustomerGroup.chat_id == chat_id))
    assert group is not None, f"no group {chat_id}"
    return group


def snapshot(s: Any) -> tuple[list[tuple[Any, ...]], ...]:
    """Every group, stint and customer row, every column: equal snapshots mean nothing was written."""
    tables = (CustomerGroup, GroupMember, Customer)
    return tuple([tuple(getattr(row, c.key) for c in model.__table__.columns)
                  for row in s.scalars(select(model).order_by(model.id))] for model in tables)
