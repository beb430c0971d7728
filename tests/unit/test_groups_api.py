"""The customer-group admin API over HTTP on group_world's groups (see its docstring for who joined and
left when): every list filter, the detail, size on each day (before the group, today, bad dates), the
portrait worked out by hand, member scope, group custom fields and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import event, select

from customer_world import all_rows, rejected
from group_world import OTHER_CORP, World, build
from models import AuditLog, CustomField, GroupFieldValue
from support import CORP_ID
from web.auth import create_token

API = "/api/v1/groups"


@pytest.fixture
def world(runtime) -> World:  # type: ignore[no-untyped-def]
    return build(runtime)


def corp_admin(runtime) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """An admin token bound to the test corp (the other corp's group is not in its lists)."""
    with runtime.WriteSession.begin() as s:
        value = create_token(s, "corp-admin", "admin", corp_id=CORP_ID)
    return {"Authorization": f"Bearer {value}"}


def chats(r) -> list[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["total"] == len(body["items"])
    return [item["chat_id"] for item in body["items"]]


# -- list -----------------------------------------------------------------------------------------------------
def test_list_items_carry_size_owner_activity_and_dismissal(client, make_token, world) -> None:  # type: ignore[no-untyped-def]
    body = client.get(API, headers=make_token("admin")).get_json()
    by_chat = {item["chat_id"]: item for item in body["items"]}
    assert list(by_chat) == ["wrG9", "wrG4", "wrG3", "wrG2", "wrG1"]
    assert by_chat["wrG1"] == {
        "corp_id": CORP_ID, "chat_id": "wrG1", "name": "销售一群", "owner": "zhangsan", "owner_name": "张三",
        "size": {"total": 4, "staff": 1, "external": 3}, "tags": [],
        "created_at": dt.datetime.combine(world.d0, dt.time(1), dt.UTC).isoformat(),  # 10:00 Tokyo
        "active": True, "dismissed": False}
    assert (by_chat["wrG3"]["dismissed"], by_chat["wrG3"]["active"]) == (True, False)
    assert by_chat["wrG4"]["active"] is False  # nobody joined within the last 7 days


@pytest.mark.parametrize("query,expected", ids=lambda v: str(v), argvalues=[
    ({"owner": "lisi"}, ["wrG2"]),
    ({"owner": "zhangsan"}, ["wrG4", "wrG3", "wrG1"]),
    ({"name": "群"}, ["wrG4", "wrG3", "wrG2", "wrG1"]),
    ({"name": "VIP"}, ["wrG2"]),
    ({"name": "%"}, []),  # LIKE's wildcard is taken literally
    ({"min_size": 3}, ["wrG1"]),
    ({"max_size": 2}, ["wrG4", "wrG3", "wrG2"]),
    ({"min_size": 2, "max_size": 2}, ["wrG4", "wrG2"]),
    ({"max_size": 0}, ["wrG3"]),
    ({"active": "true"}, ["wrG2", "wrG1"]),
    ({"active": "false"}, ["wrG4", "wrG3"]),
    ({"dismissed": "true"}, ["wrG3"]),
    ({"dismissed": "false", "owner": "zhangsan"}, ["wrG4", "wrG1"]),
])
def test_list_filters(client, runtime, world, query, expected) -> None:  # type: ignore[no-untyped-def]
    assert chats(client.get(API, query_string=query, headers=corp_admin(runtime))) == expected


def test_created_range_is_in_corp_local_days(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    """wrG2 was created D2 08:30 Tokyo, which is still D1 in UTC: it counts for D2."""
    admin = corp_admin(runtime)

    def created(**q: Any) -> list[str]:
        return chats(client.get(API, query_string={k: v.isoformat() for k, v in q.items()}, headers=admin))

    assert created(created_from=world.day(2)) == ["wrG2"]
    assert created(created_to=world.day(1)) == ["wrG4", "wrG3", "wrG1"]
    assert created(created_from=world.day(0), created_to=world.day(0)) == ["wrG1"]
    assert created(created_from=world.day(-40), created_to=world.day(-20)) == ["wrG4", "wrG3"]
    assert created(created_from=world.day(1), created_to=world.day(1)) == []


@pytest.mark.parametrize("query,field", [
    ({"created_from": "2026-13-01"}, "created_from"), ({"created_to": "yesterday"}, "created_to"),
    ({"min_size": "-1"}, "min_size"), ({"max_size": "many"}, "max_size"), ({"active": "maybe"}, "active"),
    ({"tag": "x"}, "tag"), ({"tag": "99999"}, "tag"), ({"min_size": "5", "max_size": "1"}, "min_size"),
])
def test_bad_filters_are_400_naming_the_parameter(client, make_token, world, query, field) -> None:  # type: ignore[no-untyped-def]
    r = client.get(API, query_string=query, headers=make_token("admin"))
    assert r.status_code == 400, r.get_data(as_text=True)
    assert field in r.get_json()["error"]["fields"]


def test_list_queries_do_not_grow_with_the_page(client, make_token, world, runtime) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        client.get(API, query_string={"page_size": 1}, headers=admin)
        one = len(statements)
        statements.clear()
        client.get(API, query_string={"page_size": 50}, headers=admin)
        assert len(statements) == one
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)


# -- member scope -------------------------------------------------------------------------------------------
def test_a_member_sees_groups_they_own_or_were_in(client, make_token, world) -> None:  # type: ignore[no-untyped-def]
    lisi, zhangsan = make_token("member", userid="lisi"), make_token("member", userid="zhangsan")
    assert chats(client.get(API, headers=lisi)) == ["wrG2", "wrG1"]  # owner of G2, left G1 on D2
    assert chats(client.get(API, headers=zhangsan)) == ["wrG4", "wrG3", "wrG1"]  # not the other corp's wrG9
    for path in ("wrG3", "wrG3/size?date=" + world.today.isoformat(), "wrG3/portrait"):
        r = client.get(f"{API}/{path}", headers=lisi)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get(f"{API}/wrG9", headers=zhangsan).status_code == 404
    rejected(client.application.extensions["scrm"],
             lambda: client.put(f"{API}/wrG3/fields", json={"k": 1}, headers=lisi), 404, "not_found")
    assert client.get(f"{API}/export.csv", headers=make_token("admin")).status_code == 403


# -- detail -----------------------------------------------------------------------------------------------
def test_detail_shows_members_and_those_who_left(client, make_token, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/wrG1", headers=make_token("admin"))
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert (body["notice"], body["admins"], body["status"], body["fields"]) == ("销售一群的公告", ["zhangsan"], 0, {})
    members = {m["member_id"]: m for m in body["members"]}
    assert list(members) == ["zhangsan", "wmA", "wmB", "wmC"]
    assert members["wmB"] | {"joined_at": None} == {
        "member_id": "wmB", "type": "external", "name": "wmB", "group_nickname": "", "joined_at": None,
        "customer_id": world.customers["wmB"], "join_scene": 3, "inviter": "lisi"}
    assert members["wmC"]["customer_id"] is None and members["zhangsan"]["type"] == "staff"
    tokyo = dt.timezone(dt.timedelta(hours=9))
    left = [(m["member_id"], dt.datetime.fromisoformat(m["quit_at"]).astimezone(tokyo).strftime("%H:%M"),
             m["quit_scene"]) for m in body["left"]]
    assert left == [("wmB", "12:00", 1), ("lisi", "08:30", 0), ("wmD", "20:00", 1)]  # latest quit first


@pytest.mark.parametrize("chat_id", ["nope", "x" * 65, "wr%20G1"])
def test_unknown_or_malformed_chat_id_is_404(client, make_token, world, chat_id) -> None:  # type: ignore[no-untyped-def]
    for tail in ("", "/size?date=2026-01-01", "/portrait"):
        assert client.get(f"{API}/{chat_id}{tail}", headers=make_token("admin")).status_code == 404


# -- size on a day --------------------------------------------------------------------------------------------
def test_size_at_the_end_of_each_corp_local_day(client, make_token, world) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    expected = {-1: (0, 0), 0: (2, 2), 1: (2, 2), 2: (1, 2), 3: (1, 1), 4: (1, 2), 5: (1, 3)}
    for n, (staff, external) in expected.items():
        day = world.day(n).isoformat()
        r = client.get(f"{API}/wrG1/size", query_string={"date": day}, headers=admin)
        assert r.status_code == 200, (n, r.get_data(as_text=True))
        assert r.get_json() == {"date": day, "members": staff + external, "external": external, "staff": staff}, n
    assert world.day(5) == world.today
    years_before = client.get(f"{API}/wrG1/size?date=2001-01-01", headers=admin).get_json()
    assert years_before == {"date": "2001-01-01", "members": 0, "external": 0, "staff": 0}


@pytest.mark.parametrize("date", ["2026-02-30", "2026-1-1", "20260101", "", "2026-01-01T00:00:00", "0999-01-01"])
def test_size_of_a_malformed_date_is_422(client, make_token, world, date) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/wrG1/size", query_string={"date": date}, headers=make_token("admin"))
    assert r.status_code == 422, r.get_data(as_text=True)
    assert list(r.get_json()["error"]["fields"]) == ["date"]


def test_size_of_a_future_day_is_422_and_of_an_unknown_group_404(client, make_token, world) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    tomorrow = (world.today + dt.timedelta(days=1)).isoformat()
    assert client.get(f"{API}/wrG1/size?date={tomorrow}", headers=admin).status_code == 422
    assert client.get(f"{API}/wrG404/size?date=2026-01-01", headers=admin).status_code == 404


# -- portrait ------------------------------------------------------------------------------------------------
def test_portrait_of_the_last_7_days(client, make_token, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/wrG1/portrait", headers=make_token("member", userid="zhangsan"))
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    trend = [(row["date"], row["joins"], row["quits"], row["members"]) for row in body["trend"]]
    assert trend == [(world.day(n).isoformat(), *counts) for n, counts in zip(range(-1, 6), [
        (0, 0, 0), (4, 0, 4), (1, 1, 4), (0, 1, 3), (0, 1, 2), (1, 0, 3), (1, 0, 4)], strict=True)]
    assert body["members"] == {"total": 4, "staff": 1, "external": 3}
    assert body["composition"] == {"staff": 1, "customers": 2, "unlinked": 1}
    assert body["gender"] == {"male": 1, "female": 1, "unknown": 0}
    assert [(t["name"], t["customers"]) for t in body["member_tags"]] == [("VIP", 2), ("展会", 1)]
    assert body["join_scenes"] == {"direct_invite": 2, "invite_link": 0, "scanned_code": 2, "unknown": 0}


def test_portrait_of_30_days_and_bad_windows(client, make_token, world) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    body = client.get(f"{API}/wrG1/portrait?days=30", headers=admin).get_json()
    assert len(body["trend"]) == 30 and body["trend"][-1]["date"] == world.today.isoformat()
    assert sum(row["joins"] for row in body["trend"]) == 7 and body["trend"][0]["members"] == 0
    for days in ("14", "x", "-7"):
        r = client.get(f"{API}/wrG1/portrait?days={days}", headers=admin)
        assert r.status_code == 400 and "days" in r.get_json()["error"]["fields"]


# -- custom fields --------------------------------------------------------------------------------------------
def test_group_custom_fields_are_defined_set_and_shown(client, make_token, world, runtime) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    r = client.post("/api/v1/custom-fields", json={"key": "fruit", "label": "水果分类", "type": "select",
                                                   "options": ["芒果", "香蕉"], "subject": "group", "corp_id": CORP_ID}, headers=admin)
    assert r.status_code == 201 and r.get_json()["subject"] == "group"
    client.post("/api/v1/custom-fields", json={"key": "code", "label": "编号", "type": "text", "unique": True,
                                               "subject": "group", "corp_id": CORP_ID}, headers=admin)
    listed = client.get("/api/v1/custom-fields?subject=group", headers=admin).get_json()["items"]
    assert [f["key"] for f in listed] == ["fruit", "code"]
    assert client.get("/api/v1/custom-fields", headers=admin).get_json()["items"] == []  # customers' fields
    r = client.put(f"{API}/wrG1/fields", json={"fruit": "芒果", "code": "G-1"}, headers=admin)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["fields"] == {"fruit": "芒果", "code": "G-1"}
    assert client.get(f"{API}/wrG1", headers=admin).get_json()["fields"] == {"fruit": "芒果", "code": "G-1"}
    rejected(runtime, lambda: client.put(f"{API}/wrG2/fields", json={"fruit": "苹果", "nope": 1}, headers=admin),
             422, "invalid")
    error = rejected(runtime, lambda: client.put(f"{API}/wrG2/fields", json={"code": "G-1"}, headers=admin),
                     409, "conflict")
    assert error["fields"] == {"code": "already used by another group"}
    assert client.patch(f"/api/v1/custom-fields/{listed[0]['id']}", json={"options": ["香蕉"]},
                        headers=admin).get_json()["error"]["fields"] == {"options": "1 group(s) hold a choice this removes"}
    # a customer field's key is not a group's: PUT /customers/<id>/fields does not take it
    assert client.put(f"/api/v1/customers/{world.customers['wmA']}/fields", json={"fruit": "芒果"},
                      headers=admin).status_code == 422
    with runtime.Session() as s:
        assert len(s.scalars(select(GroupFieldValue)).all()) == 2
        assert s.scalar(select(AuditLog).where(AuditLog.action == "group.fields")).detail["fields"] == ["code", "fruit"]
        assert {f.subject for f in s.scalars(select(CustomField))} == {"group"}


# -- export ------------------------------------------------------------------------------------------------
def test_export_is_the_filtered_list_as_csv(client, make_token, world, runtime) -> None:  # type: ignore[no-untyped-def]
    root = make_token("super_admin")
    client.post("/api/v1/custom-fields", json={"key": "fruit", "label": "水果分类", "type": "text",
                                               "subject": "group", "corp_id": CORP_ID}, headers=root)
    client.put(f"{API}/wrG1/fields", json={"fruit": "=1+1"}, headers=root)
    r = client.get(f"{API}/export.csv", query_string={"corp_id": CORP_ID, "dismissed": "false"}, headers=root)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][-1] == "水果分类" and rows[0][0] == "客户群ID"
    assert [row[0] for row in rows[1:]] == ["wrG4", "wrG2", "wrG1"]  # not the other corp's, not the dismissed
    g1 = rows[-1]
    assert g1[1:6] == ["销售一群", "张三", "4", "1", "3"] and g1[8] == "活跃" and g1[-1] == "'=1+1"
    assert g1[7] == f"{world.d0.isoformat()} 10:00:00"  # Tokyo wall clock
    bad = client.get(f"{API}/export.csv", query_string={"corp_id": CORP_ID, "min_size": "x"}, headers=root)
    assert bad.status_code == 400
    with runtime.Session() as s:
        assert s.scalar(select(AuditLog).where(AuditLog.action == "group.export")).detail["filters"] == {
            "dismissed": False}
    assert OTHER_CORP not in text and all_rows(runtime)
