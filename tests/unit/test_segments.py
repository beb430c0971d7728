"""Segments (客户分组 / 人群包, 004 §5.5): every filter kind picks exactly its customers (count, list and the
unsaved preview agree), a static segment is a frozen snapshot until refreshed while a dynamic one follows the
data, a member counts only the customers they follow, bad filters change nothing, and the 30-day tag trend
counts each tag's customers per corp-local day. The world: tests/unit/customer_world.py, plus a department,
a custom field, an opportunity, a customer group and a follow-up time (`extras`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from customer_world import OTHER_CORP, at, build, rejected
from models import (Customer, CustomerFieldValue, CustomerGroup, CustomField, Department, FollowRelation, FollowTag,
                    GroupMember, Opportunity, OpportunityStage, Staff)
from models.db import utcnow
from support import CORP_ID
from web.auth import create_token


@pytest.fixture
def world(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    with runtime.WriteSession.begin() as s:
        s.add_all([Department(corp_id=CORP_ID, dept_id=1, name="总部"),
                   Department(corp_id=CORP_ID, dept_id=2, name="华东", parent_id=1),
                   Department(corp_id=CORP_ID, dept_id=3, name="华南", parent_id=1)])
        s.execute(update(Staff).where(Staff.userid == "lisi").values(department=[2]))
        s.execute(update(Staff).where(Staff.userid == "zhangsan").values(department=[3]))
        budget = CustomField(corp_id=CORP_ID, key="budget", label="预算", type="number")
        city = CustomField(corp_id=CORP_ID, key="city", label="城市", type="text")
        stage = OpportunityStage(corp_id=CORP_ID, name="谈判", position=0)
        group = CustomerGroup(corp_id=CORP_ID, chat_id="wrChat1", name="老客户群")
        s.add_all([budget, city, stage, group])
        s.flush()
        s.add_all([CustomerFieldValue(customer_id=ids["王小明"], field_id=budget.id, value=12.5, text="12.5"),
                   CustomerFieldValue(customer_id=ids["赵六"], field_id=budget.id, value=8, text="8"),
                   CustomerFieldValue(customer_id=ids["赵六"], field_id=city.id, value="上海", text="上海"),
                   Opportunity(corp_id=CORP_ID, customer_id=ids["赵六"], name="大单", stage_id=stage.id,
                               amount_cents=100, expected_close=dt.date(2026, 6, 1), owner_userid="lisi",
                               created_by="t"),
                   GroupMember(group_id=group.id, corp_id=CORP_ID, member_id="wm孙七", member_type=2,
                               customer_id=ids["孙七"], joined_at=at(2026, 3, 1), open_key="wm孙七")])
        s.execute(update(Customer).where(Customer.id == ids["孙七"]).values(last_followed_at=at(2026, 5, 2, 23, 30)))
        ids.update(budget=budget.id, city=city.id, stage=stage.id, group=group.id)
        admin = {"Authorization": f"Bearer {create_token(s, 'admin', 'admin', corp_id=CORP_ID)}"}
    return {**ids, "admin": admin}


def preview(client: Any, world: dict[str, Any], filters: dict[str, Any], headers: Any = None) -> Any:
    return client.post("/api/v1/segments/preview", headers=headers or world["admin"], json={"filters": filters})


CASES = [  # (filters, who) with names for the world's ids
    ({}, {"王小明", "赵六", "孙七"}),
    ({"tags_all": ["vip", "fair"]}, {"王小明"}),
    ({"tags_any": ["fair"]}, {"王小明"}),
    ({"tags_any": ["fair", "vip"]}, {"王小明", "赵六"}),
    ({"tags_none": ["vip"]}, {"孙七"}),
    ({"channels": ["公众号"]}, {"赵六"}),
    ({"channels": ["线下门店"]}, {"王小明"}),
    ({"channel_code_ids": ["store"]}, {"王小明"}),
    ({"followers": ["lisi"]}, {"赵六", "孙七"}),
    ({"followers": ["zhangsan"]}, {"王小明"}),  # 孙七's zhangsan relation ended; 周八 is in the recycle bin
    ({"departments": [2]}, {"赵六", "孙七"}),
    ({"departments": [1]}, {"王小明", "赵六", "孙七"}),  # and the departments below
    ({"added_from": "2026-04-01", "added_to": "2026-04-01"}, {"赵六"}),  # 00:10 Beijing is that corp day
    ({"added_to": "2026-03-31"}, {"王小明", "孙七"}),
    ({"followed_up_from": "2026-05-02", "followed_up_to": "2026-05-02"}, {"孙七"}),
    ({"followed_up_from": "2026-05-03"}, set()),
    ({"stage_ids": ["stage"]}, {"赵六"}),
    ({"fields": [{"field_id": "budget", "op": "gte", "value": 10}]}, {"王小明"}),
    ({"fields": [{"field_id": "budget", "op": "lte", "value": 12.5}]}, {"王小明", "赵六"}),
    ({"fields": [{"field_id": "city", "op": "eq", "value": "上海"}]}, {"赵六"}),
    ({"fields": [{"field_id": "city", "op": "contains", "value": "海"}, {"field_id": "budget", "value": 8}]},
     {"赵六"}),
    ({"group_ids": ["group"]}, {"孙七"}),
    ({"tags_any": ["vip"], "followers": ["lisi"], "added_from": "2026-03-01"}, {"赵六"}),
]


def _resolve(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_resolve(v, world) for v in value]
    if isinstance(value, dict):
        return {k: world[v] if k == "field_id" else _resolve(v, world) for k, v in value.items()}
    return world.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize("filters, expected", CASES)
def test_each_filter_picks_exactly_its_customers(client, world, filters, expected) -> None:  # type: ignore[no-untyped-def]
    filters = {k: v if k.endswith(("_from", "_to")) else _resolve(v, world) for k, v in filters.items()}
    r = preview(client, world, filters)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["count"] == len(expected)
    r = client.post("/api/v1/segments", headers=world["admin"], json={"name": "组", "filters": filters})
    assert r.status_code == 201, r.get_json()
    seg = r.get_json()["id"]
    assert client.get(f"/api/v1/segments/{seg}/count", headers=world["admin"]).get_json() == {"count": len(expected)}
    page = client.get(f"/api/v1/segments/{seg}/customers?page_size=200", headers=world["admin"]).get_json()
    assert {c["name"] for c in page["items"]} == expected and page["total"] == len(expected)


def test_a_static_segment_is_frozen_until_refreshed_and_a_dynamic_one_follows(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    body = {"filters": {"tags_any": [world["vip"]]}}
    static = client.post("/api/v1/segments", headers=world["admin"], json={"name": "静态", "kind": "static", **body})
    dynamic = client.post("/api/v1/segments", headers=world["admin"], json={"name": "动态", **body})
    assert static.status_code == dynamic.status_code == 201
    static, dynamic = static.get_json(), dynamic.get_json()
    assert static["size"] == 2 and static["refreshed_at"] and dynamic["size"] is None
    with runtime.WriteSession.begin() as s:  # 孙七 is tagged VIP on lisi's relation; 王小明 leaves for the bin
        follow = s.scalar(select(FollowRelation.id).where(FollowRelation.customer_id == world["孙七"],
                                                          FollowRelation.userid == "lisi"))
        s.add(FollowTag(follow_id=follow, customer_id=world["孙七"], tag_pk=world["vip"], tagged_by="lisi"))
        s.execute(update(Customer).where(Customer.id == world["王小明"]).values(deleted_at=utcnow()))

    def count(seg: dict[str, Any]) -> int:
        return client.get(f"/api/v1/segments/{seg['id']}/count", headers=world["admin"]).get_json()["count"]

    assert count(static) == 1 and count(dynamic) == 2  # the snapshot keeps 赵六 (王小明 is binned); 孙七 joins
    r = client.post(f"/api/v1/segments/{static['id']}/refresh", headers=world["admin"])
    assert r.status_code == 200 and r.get_json()["size"] == 2 and count(static) == 2
    assert client.post(f"/api/v1/segments/{dynamic['id']}/refresh", headers=world["admin"]).status_code == 409


def test_a_member_counts_only_the_customers_they_follow(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    seg = client.post("/api/v1/segments", headers=world["admin"], json={"name": "全部"}).get_json()["id"]
    with runtime.WriteSession.begin() as s:
        lisi = {"Authorization": f"Bearer {create_token(s, 'lisi', 'member', userid='lisi', corp_id=CORP_ID)}"}
    assert client.get(f"/api/v1/segments/{seg}/count", headers=lisi).get_json() == {"count": 2}
    names = {c["name"] for c in client.get(f"/api/v1/segments/{seg}/customers", headers=lisi).get_json()["items"]}
    assert names == {"赵六", "孙七"}
    assert client.post("/api/v1/segments", headers=lisi, json={"name": "我的"}).status_code == 403


@pytest.mark.parametrize("body, status", [
    ({"name": "坏", "filters": {"tags_all": [99999]}}, 422),
    ({"name": "坏", "filters": {"stage_ids": [99999]}}, 422),
    ({"name": "坏", "filters": {"fields": [{"field_id": 99999, "value": "x"}]}}, 422),
    ({"name": "坏", "filters": {"fields": [{"field_id": 1, "value": "x" * 41}]}}, 422),
    ({"name": "坏", "filters": {"fields": [{"field_id": 1, "value": 1.234}]}}, 422),
    ({"name": "坏", "filters": {"added_from": "2026-05-02", "added_to": "2026-05-01"}}, 422),
    ({"name": "坏", "kind": "frozen"}, 422),
    ({"name": ""}, 422),
])
def test_bad_segments_are_refused_and_change_nothing(client, runtime, world, body, status) -> None:  # type: ignore[no-untyped-def]
    rejected(runtime, lambda: client.post("/api/v1/segments", headers=world["admin"], json=body), status,
             "invalid")


def test_another_corps_tags_pick_nothing_and_its_segments_are_hidden(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/segments", headers=world["admin"], json={"name": "外", "corp_id": CORP_ID})
    seg = r.get_json()["id"]
    with runtime.WriteSession.begin() as s:
        other = {"Authorization": f"Bearer {create_token(s, 'o', 'admin', corp_id=OTHER_CORP)}"}
    assert client.get(f"/api/v1/segments/{seg}/count", headers=other).status_code == 404
    assert client.get("/api/v1/segments", headers=other).get_json()["total"] == 0


def test_the_tag_trend_counts_each_tags_customers_per_corp_day(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    with runtime.WriteSession.begin() as s:  # VIP: 王小明 long ago, 赵六 three days ago; 展会 today
        s.execute(update(FollowTag).where(FollowTag.tag_pk == world["vip"]).values(tagged_at=now - dt.timedelta(days=90)))
        zhao = s.scalar(select(FollowRelation.id).where(FollowRelation.customer_id == world["赵六"]))
        s.execute(update(FollowTag).where(FollowTag.follow_id == zhao).values(tagged_at=now - dt.timedelta(days=3)))
        s.execute(update(FollowTag).where(FollowTag.tag_pk == world["fair"]).values(tagged_at=now))
    seg = client.post("/api/v1/segments", headers=world["admin"], json={"name": "全部"}).get_json()["id"]
    r = client.get(f"/api/v1/segments/{seg}/tag-trend", headers=world["admin"])
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert len(body["days"]) == 30
    trend = {t["name"]: t["counts"] for t in body["tags"]}
    assert trend["VIP"][:26] == [1] * 26 and trend["VIP"][-1] == 2
    assert trend["展会"][:-1] == [0] * 29 and trend["展会"][-1] == 1
    assert client.get(f"/api/v1/segments/{seg}/tag-trend?days=91", headers=world["admin"]).status_code == 400
