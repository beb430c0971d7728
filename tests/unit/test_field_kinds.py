"""Custom field kinds of manual 9.10.1 (issue 17) over HTTP, each at its edge: cascade (级联) trees and paths,
integer vs two-place decimal numbers, dates with or without a time, the default option, enable/disable.
Every refusal is a 422 naming the field, and changes no row."""

from __future__ import annotations

from typing import Any

import pytest

from customer_world import build, rejected
from support import CORP_ID
from test_custom_fields import define, put, stored

REGION = [{"label": "广东", "children": [{"label": "深圳", "children": [
    {"label": "南山", "children": [{"label": "粤海街道"}]}]}, {"label": "广州"}]}, {"label": "北京"}]
FIELDS = [
    {"key": "count", "label": "人数", "type": "number", "decimals": 0},
    {"key": "amount", "label": "金额", "type": "number", "decimals": 2},
    {"key": "visit", "label": "拜访时间", "type": "date", "with_time": True},
    {"key": "birthday", "label": "生日", "type": "date"},
    {"key": "region", "label": "地区", "type": "cascade", "options": REGION},
    {"key": "level", "label": "等级", "type": "select", "options": ["A", "B", "C"], "default": "B"},
]


@pytest.fixture
def world(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return build(runtime)


@pytest.fixture
def fields(client, make_token, world) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return define(client, make_token("admin"), FIELDS)


def test_values_of_each_kind_are_stored_canonically_and_the_default_fills_a_first_write(
        client, runtime, make_token, fields, world) -> None:
    admin, cid = make_token("admin"), world["王小明"]
    r = put(client, admin, cid, {"count": "12", "amount": "1200.5", "visit": "2026-05-01T14:30",
                                 "birthday": "1990-05-04", "region": ["广东", "深圳", "南山", "粤海街道"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert stored(runtime, cid) == {"count": 12, "amount": 1200.5, "visit": "2026-05-01 14:30",
                                    "birthday": "1990-05-04", "region": ["广东", "深圳", "南山", "粤海街道"],
                                    "level": "B"}  # the default: this was the customer's first write
    assert put(client, admin, cid, {"level": None, "region": ["北京"]}).status_code == 200
    assert stored(runtime, cid)["region"] == ["北京"] and "level" not in stored(runtime, cid)  # cleared stays


@pytest.mark.parametrize("body,named,says", [
    ({"amount": "12.345"}, "amount", "2 decimal places"),
    ({"amount": 0.001}, "amount", "2 decimal places"),
    ({"count": "1.5"}, "count", "whole number"),
    ({"count": 2.25}, "count", "whole number"),
    ({"visit": "2026-05-01"}, "visit", "date and time"),
    ({"visit": "2026-05-01 25:00"}, "visit", "date and time"),
    ({"birthday": "2026-05-01 14:30"}, "birthday", "YYYY-MM-DD"),
    ({"region": ["广东", "深圳"]}, "region", "last level"),
    ({"region": ["广东", "东莞"]}, "region", "level 2"),
    ({"region": "广东"}, "region", "list of labels"),
])
def test_values_past_the_edge_get_422_and_change_nothing(client, runtime, make_token, fields, world, body, named,
                                                         says) -> None:
    admin = make_token("admin")
    assert put(client, admin, world["王小明"], {"amount": "99.99", "count": 3}).status_code == 200
    error = rejected(runtime, lambda: put(client, admin, world["王小明"], body), 422, "invalid")
    assert says in error["fields"][named]
    assert stored(runtime, world["王小明"]) == {"amount": 99.99, "count": 3, "level": "B"}


def tree(depth: int) -> list[dict[str, Any]]:
    node: dict[str, Any] = {"label": f"L{depth}"}
    for level in range(depth - 1, 0, -1):
        node = {"label": f"L{level}", "children": [node]}
    return [node]


@pytest.mark.parametrize("body,named", [
    ({"type": "cascade", "options": tree(5)}, "options"),  # a fifth level
    ({"type": "cascade", "options": [{"label": "a"}, {"label": "a"}]}, "options"),
    ({"type": "number", "decimals": 3}, "decimals"),
    ({"type": "text", "decimals": 2}, "decimals"),
    ({"type": "text", "with_time": True}, "with_time"),
    ({"type": "select", "options": ["A"], "default": "Z"}, "default"),
    ({"type": "number", "decimals": 2, "default": "1.234"}, "default"),
    ({"type": "text", "unique": True, "default": "x"}, "default"),
])
def test_bad_kinds_of_definition_get_422(client, runtime, make_token, world, body, named) -> None:
    admin = make_token("admin")
    error = rejected(runtime, lambda: client.post("/api/v1/custom-fields", headers=admin, json={
        "key": "f", "label": "f", "corp_id": CORP_ID, **body}), 422, "invalid")
    assert named in error["fields"]


def test_a_four_level_cascade_is_accepted(client, make_token, world) -> None:
    r = client.post("/api/v1/custom-fields", headers=make_token("admin"), json={
        "key": "deep", "label": "deep", "type": "cascade", "options": tree(4), "corp_id": CORP_ID})
    assert r.status_code == 201 and r.get_json()["options"][0]["children"][0]["children"][0]["children"][0] == {
        "label": "L4", "children": []}


def test_narrowing_a_kind_that_stored_values_break_is_409(client, runtime, make_token, fields, world) -> None:
    admin = make_token("admin")
    assert put(client, admin, world["王小明"], {"amount": "10.50"}).status_code == 200
    rejected(runtime, lambda: client.patch(f"/api/v1/custom-fields/{fields['amount']}", headers=admin,
                                           json={"decimals": 0}), 409, "conflict")
    error = rejected(runtime, lambda: client.patch(f"/api/v1/custom-fields/{fields['level']}", headers=admin,
                                                   json={"options": ["A", "C"], "default": "C"}), 409, "conflict")
    assert "options" in error["fields"]  # 王小明 holds the default B
    assert put(client, admin, world["王小明"], {"level": "A"}).status_code == 200
    error = rejected(runtime, lambda: client.patch(f"/api/v1/custom-fields/{fields['level']}", headers=admin,
                                                   json={"options": ["A", "C"]}), 422, "invalid")
    assert "default" in error["fields"]  # B is still the default
    r = client.patch(f"/api/v1/custom-fields/{fields['level']}", headers=admin, json={"options": ["A", "C"],
                                                                                      "default": "C"})
    assert r.status_code == 200 and r.get_json()["default"] == "C"


def test_a_disabled_field_leaves_forms_and_customers_and_keeps_its_values(client, runtime, make_token, fields,
                                                                          world) -> None:
    admin, member, cid = make_token("admin"), make_token("member", userid="zhangsan"), world["王小明"]
    assert put(client, admin, cid, {"count": 5}).status_code == 200
    r = client.patch(f"/api/v1/custom-fields/{fields['count']}", headers=admin, json={"enabled": False})
    assert r.status_code == 200 and r.get_json()["enabled"] is False
    keys = {f["key"]: f["enabled"] for f in client.get("/api/v1/custom-fields", headers=admin).get_json()["items"]}
    assert keys["count"] is False
    assert "count" not in {f["key"] for f in client.get("/api/v1/custom-fields", headers=member).get_json()["items"]}
    assert "count" not in client.get(f"/api/v1/customers/{cid}", headers=admin).get_json()["fields"]
    error = rejected(runtime, lambda: put(client, admin, cid, {"count": 6}), 422, "invalid")
    assert error["fields"] == {"count": "unknown field"}
    assert stored(runtime, cid)["count"] == 5
    assert client.patch(f"/api/v1/custom-fields/{fields['count']}", headers=admin,
                        json={"enabled": True}).status_code == 200
    assert client.get(f"/api/v1/customers/{cid}", headers=admin).get_json()["fields"]["count"] == 5
