"""Customers in bulk for the mass-message tests and bench (群发): rows written with executemany inserts, so
10,000 or 100,000 of them take seconds; and the fake WeCom's mass-message controls."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from sqlalchemy import insert, select

from models import Customer, FollowRelation, FollowTag, Staff, Tag, TagGroup
from models.db import utcnow

BATCH = 5000


def add_staff(runtime: Any, corp_id: str, userids: list[str]) -> None:
    with runtime.WriteSession.begin() as s:
        s.add_all([Staff(corp_id=corp_id, userid=u, name=u, department=[1]) for u in userids])


def add_tags(runtime: Any, corp_id: str, names: list[str]) -> dict[str, int]:
    """Corp tags `names` in one group; name → pk."""
    with runtime.WriteSession.begin() as s:
        group = TagGroup(corp_id=corp_id, group_id=f"et{corp_id[-6:]}grp", name="群发")
        s.add(group)
        s.flush()
        tags = [Tag(corp_id=corp_id, tag_id=f"et{corp_id[-6:]}{name}", group_pk=group.id, name=name) for name in names]
        s.add_all(tags)
        s.flush()
        return {t.name: t.id for t in tags}


def add_customers(runtime: Any, corp_id: str, rows: list[tuple[str, str, list[str], list[int]]]) -> dict[str, int]:
    """Customers as (external_userid, owner, followers in the order they added them, tag pks on the first
    follow); external_userid → id."""
    added = utcnow() - dt.timedelta(days=10)
    with runtime.WriteSession.begin() as s:
        for start in range(0, len(rows), BATCH):
            s.execute(insert(Customer), [{"corp_id": corp_id, "external_userid": ext, "name": ext, "owner_userid": owner}
                                         for ext, owner, _, _ in rows[start:start + BATCH]])
        ids = dict(s.execute(select(Customer.external_userid, Customer.id).where(Customer.corp_id == corp_id)).all())
        follows = [{"customer_id": ids[ext], "corp_id": corp_id, "userid": userid,
                    "added_at": added + dt.timedelta(seconds=n)}
                   for ext, _, followers, _ in rows for n, userid in enumerate(followers)]
        for start in range(0, len(follows), BATCH):
            s.execute(insert(FollowRelation), follows[start:start + BATCH])
        first = {cid: fid for fid, cid in s.execute(select(FollowRelation.id, FollowRelation.customer_id).where(
            FollowRelation.corp_id == corp_id).order_by(FollowRelation.id.desc()))}
        tagged = [{"follow_id": first[ids[ext]], "customer_id": ids[ext], "tag_pk": pk} for ext, _, _, tags in rows for pk in tags]
        for start in range(0, len(tagged), BATCH):
            s.execute(insert(FollowTag), tagged[start:start + BATCH])
    return ids


def fake_control(fake_url: str, route: str, **body: Any) -> dict[str, Any]:
    r = requests.post(f"{fake_url}/fake/groupmsg/{route}", json=body, timeout=30)
    r.raise_for_status()
    return r.json()
