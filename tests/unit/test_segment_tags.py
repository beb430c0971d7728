"""A segment's tag conditions (tags_all / tags_any / tags_none, with an added range) count exactly what a plain
reference query counts: tags found through each tag row's follow relation (not the customer id copied onto
follow_tags, which web/segment_query.py intersects on), over customers tagged through the real writers
(handlers.tags.mark_follow_tags and set_follow_tags), including one followed by two members who tagged them
differently, one whose relation with a tag has ended, and one in the recycle bin."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import select

from customer_world import at, build
from handlers.tags import mark_follow_tags, set_follow_tags
from models import Customer, FollowRelation, FollowTag, Tag
from models.customer import FollowStatus
from support import CORP_ID
from web.schemas.segment_filters import SegmentFilters
from web.segment_query import count_of, segment_customers

TAGS = ("tagA", "tagB", "tagC", "tagD")
FIRST = dt.date(2026, 3, 1)


@pytest.fixture
def tagged(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """36 customers; customer k is followed by zhangsan (added FIRST + k days) and, every third, by lisi too,
    each member tagging their relation with a different mix of the four tags."""
    build(runtime)
    with runtime.WriteSession.begin() as s:
        group = s.scalar(select(Tag.group_pk).where(Tag.corp_id == CORP_ID))
        s.add_all([Tag(corp_id=CORP_ID, tag_id=t, group_pk=group, name=t) for t in TAGS])
        s.flush()
        for k in range(36):
            c = Customer(corp_id=CORP_ID, external_userid=f"wmT{k}", name=f"客户{k}", owner_userid="zhangsan",
                         deleted_at=at(2026, 5, 1) if k == 35 else None)
            s.add(c)
            s.flush()
            members = ("zhangsan", "lisi") if k % 3 == 0 else ("zhangsan",)
            for n, userid in enumerate(members):
                added = dt.datetime.combine(FIRST + dt.timedelta(days=k), dt.time(10), at(2026, 1, 1).tzinfo)
                status = FollowStatus.deleted_by_customer.value if (k, n) == (7, 0) else FollowStatus.active.value
                follow = FollowRelation(customer_id=c.id, corp_id=CORP_ID, userid=userid, added_at=added,
                                        status_changed_at=added, status=status)
                s.add(follow)
                s.flush()
                mine = [t for bit, t in enumerate(TAGS) if (k >> bit) & 1] if n == 0 else [TAGS[(k + 1) % 4]]
                if k % 4 == 1:  # WeCom's own answer (externalcontact/get) writes these
                    set_follow_tags(s, follow, [{"tag_id": t, "type": 1} for t in mine])
                else:
                    mark_follow_tags(s, follow, mine, [], userid)
        pks = dict(s.execute(select(Tag.tag_id, Tag.id).where(Tag.tag_id.in_(TAGS))).all())
    return pks


def reference(s: Any, filters: SegmentFilters, lo: dt.datetime | None, hi: dt.datetime | None) -> int:
    """The plain answer: each live customer's tags through their relations, compared in Python."""
    tags: dict[int, set[int]] = {}
    for cid, pk in s.execute(select(FollowRelation.customer_id, FollowTag.tag_pk)
                             .join(FollowTag, FollowTag.follow_id == FollowRelation.id)):
        tags.setdefault(cid, set()).add(pk)
    added: dict[int, list[tuple[dt.datetime, str]]] = {}
    for cid, when, status in s.execute(select(FollowRelation.customer_id, FollowRelation.added_at,
                                              FollowRelation.status)):
        added.setdefault(cid, []).append((when, status))
    count = 0
    for cid in s.scalars(select(Customer.id).where(Customer.corp_id == CORP_ID, Customer.deleted_at.is_(None))):
        mine = tags.get(cid, set())
        if not set(filters.tags_all) <= mine or (filters.tags_any and not set(filters.tags_any) & mine):
            continue
        if set(filters.tags_none) & mine:
            continue
        if lo is not None and not any(status == FollowStatus.active.value and lo <= when < hi
                                      for when, status in added.get(cid, [])):
            continue
        count += 1
    return count


def test_tag_conditions_count_what_a_plain_query_counts(runtime, tagged) -> None:  # type: ignore[no-untyped-def]
    pk = [tagged[t] for t in TAGS]
    combos = [c for size in (1, 2, 3) for c in itertools.combinations(pk, size)]
    both = (FIRST + dt.timedelta(days=4), FIRST + dt.timedelta(days=25))
    bounds = (at(2026, 3, 5), at(2026, 3, 27))  # those local days, 00:00 to 24:00 Beijing
    seen = set()
    with runtime.Session() as s:
        for combo, ranged in itertools.product(combos, (False, True)):
            span: dict[str, Any] = {"added_from": both[0], "added_to": both[1]} if ranged else {}
            lo, hi = bounds if ranged else (None, None)
            rest = [p for p in pk if p not in combo]
            for filters in (SegmentFilters(tags_all=list(combo), **span),
                            SegmentFilters(tags_all=list(combo), tags_none=rest[:1], **span),
                            SegmentFilters(tags_any=list(combo), tags_none=rest[1:2], **span)):
                got = count_of(s, segment_customers(s, CORP_ID, filters))
                assert got == reference(s, filters, lo, hi), filters
                seen.add(got)
    assert len(seen) > 5  # the combinations pick different sets, not all none or all everyone


def test_a_customer_two_members_tagged_differently_has_both_tags(runtime, tagged) -> None:  # type: ignore[no-untyped-def]
    """Customer 0 carries no tag from zhangsan and tagB from lisi; customer 3 tagA+tagB from zhangsan and tagA
    from lisi; customer 6 tagB+tagC from zhangsan and tagD from lisi: tags_all [tagB, tagD] is customer 6 alone,
    though no relation carries both."""
    with runtime.Session() as s:
        query = segment_customers(s, CORP_ID, SegmentFilters(tags_all=[tagged["tagB"], tagged["tagD"]]))
        names = set(s.scalars(query.with_only_columns(Customer.name)))
        assert "客户6" in names
        assert count_of(s, query) == len(names)
        assert all(ft.customer_id == s.get_one(FollowRelation, ft.follow_id).customer_id
                   for ft in s.scalars(select(FollowTag)))


def test_the_segment_query_carries_its_mariadb_plan_to_the_server(runtime, tagged) -> None:  # type: ignore[no-untyped-def]
    """A segment's query runs with its optimizer_switch on MariaDB (a flag the server refuses shows it was sent
    as `SET STATEMENT … FOR`, models/db.py) and SQLite ignores the option; the count and the page agree."""
    from sqlalchemy.exc import OperationalError

    from models.db import OPTIMIZER_SWITCH

    with runtime.Session() as s:
        query = segment_customers(s, CORP_ID, SegmentFilters(tags_all=[tagged["tagB"], tagged["tagD"]]))
        assert query.get_execution_options()[OPTIMIZER_SWITCH]
        assert count_of(s, query) == len(s.scalars(query.with_only_columns(Customer.id)).all())
        bogus = query.execution_options(**{OPTIMIZER_SWITCH: "no_such_flag=off"})
        if s.get_bind().dialect.name == "mysql":
            with pytest.raises(OperationalError, match="optimizer_switch"):
                count_of(s, bogus)
        else:
            assert count_of(s, bogus) == count_of(s, query)
