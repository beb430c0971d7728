"""Follow-up records (跟进记录) over the admin API: required fields, a member's scope by id and by filter,
the timeline and the customer's last follow-up time, the audit, the bot's /跟进 seen through the API, and the
corp's follow-up types.
Rows come from customer_world: zhangsan follows 王小明, lisi alone follows 赵六."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from bot_support import ADD, Bot
from customer_world import OTHER_CORP, build, rejected
from models import AuditLog, Customer, CustomerEvent, FollowUp, FollowUpType
from support import CORP_ID


@pytest.fixture
def world(runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    return {**ids, "zhangsan": make_token("member", userid="zhangsan", name="zs"),
            "lisi": make_token("member", userid="lisi", name="ls"), "admin": make_token("admin", name="adm")}


def post(client, headers: dict[str, str], **body: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/follow-ups", headers=headers, json=body)


def test_a_follow_up_is_stored_on_the_timeline_moves_the_last_follow_up_and_is_audited(client, runtime, world):  # type: ignore[no-untyped-def]
    wang = world["王小明"]
    r = post(client, world["zhangsan"], customer_id=wang, text="  电话沟通了报价  ", at="2026-11-20T08:00:00Z")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["customer_id"], body["userid"], body["text"], body["via"]) == (wang, "zhangsan", "电话沟通了报价", "api")
    assert body["at"].startswith("2026-11-20T08:00:00")
    post(client, world["zhangsan"], customer_id=wang, text="更早的一次", at="2026-11-01T08:00:00Z")
    with runtime.Session() as s:
        assert s.get(Customer, wang).last_followed_at == dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)  # not moved back
        events = s.scalars(select(CustomerEvent).where(CustomerEvent.kind == "follow_up")
                           .order_by(CustomerEvent.at)).all()
        assert [(e.customer_id, e.detail["text"]) for e in events] == [(wang, "更早的一次"), (wang, "电话沟通了报价")]
        assert s.scalars(select(AuditLog.target).where(AuditLog.action == "customer.follow_up")).all() == [
            f"customer:{wang}"] * 2
    timeline = client.get(f"/api/v1/customers/{wang}", headers=world["zhangsan"]).get_json()["timeline"]
    assert [e["detail"]["text"] for e in timeline if e["kind"] == "follow_up"] == ["电话沟通了报价", "更早的一次"]


@pytest.mark.parametrize("body, field", [
    ({"text": "x"}, "customer_id"),
    ({"customer_id": "CUST"}, "text"),
    ({"customer_id": "CUST", "text": "   "}, "text"),
    ({"customer_id": "CUST", "text": "字" * 101}, "text"),
])
def test_required_and_bounded_fields_are_a_422_naming_the_field(client, runtime, world, body, field) -> None:  # type: ignore[no-untyped-def]
    body = {k: world["王小明"] if v == "CUST" else v for k, v in body.items()}
    error = rejected(runtime, lambda: post(client, world["zhangsan"], **body), 422, "invalid")
    assert list(error["fields"]) == [field]


def test_an_admin_token_names_who_followed_up(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    error = rejected(runtime, lambda: post(client, world["admin"], customer_id=world["赵六"], text="x"), 422, "invalid")
    assert list(error["fields"]) == ["userid"]
    assert post(client, world["admin"], customer_id=world["赵六"], text="x", userid="lisi").status_code == 201


def test_a_member_neither_reads_nor_writes_another_members_customers_records(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    zhao, wang = world["赵六"], world["王小明"]
    theirs = post(client, world["lisi"], customer_id=zhao, text="李四的跟进").get_json()["id"]
    mine = post(client, world["zhangsan"], customer_id=wang, text="张三的跟进").get_json()["id"]
    # by id
    assert client.get(f"/api/v1/follow-ups/{theirs}", headers=world["zhangsan"]).status_code == 404
    assert client.get(f"/api/v1/follow-ups/{mine}", headers=world["zhangsan"]).status_code == 200
    # by filter: another's customer is absent, another member's name finds nothing of theirs
    r = client.get(f"/api/v1/follow-ups?customer_id={zhao}", headers=world["zhangsan"])
    assert r.status_code == 404
    r = client.get("/api/v1/follow-ups?userid=lisi", headers=world["zhangsan"])
    assert r.get_json()["items"] == []
    listed = client.get("/api/v1/follow-ups", headers=world["zhangsan"]).get_json()["items"]
    assert [f["id"] for f in listed] == [mine]
    # writing on their customer, or in another member's name
    rejected(runtime, lambda: post(client, world["zhangsan"], customer_id=zhao, text="x"), 404, "not_found")
    rejected(runtime, lambda: post(client, world["zhangsan"], customer_id=wang, text="x", userid="lisi"), 403,
             "forbidden")
    # an admin sees both
    every = client.get("/api/v1/follow-ups", headers=world["admin"]).get_json()["items"]
    assert {f["id"] for f in every} == {mine, theirs}


def test_the_bots_follow_up_is_the_apis_record(client, runtime, sender, crypto, make_token) -> None:  # type: ignore[no-untyped-def]
    assert sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan").status_code == 200
    with runtime.Session() as s:
        customer_id = s.scalar(select(Customer.id))
    assert Bot(sender, crypto).ask(f"/跟进 #{customer_id} 约了周五见面").startswith("已记录")
    with runtime.Session() as s:
        customer = s.get(Customer, customer_id)
        assert customer.last_followed_at == s.scalar(select(FollowUp.at)) is not None
    member = make_token("member", userid="zhangsan", name="zs")
    [item] = client.get(f"/api/v1/follow-ups?customer_id={customer.id}", headers=member).get_json()["items"]
    assert (item["text"], item["userid"], item["via"]) == ("约了周五见面", "zhangsan", "bot")


# -- types (9.12) -------------------------------------------------------------------------------------------
def types(client, headers: dict[str, str]) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/follow-up-types", headers=headers, query_string={"corp_id": CORP_ID})
    assert r.status_code == 200, r.get_json()
    return [(t["name"], t["id"]) for t in r.get_json()["items"]]


def test_a_corps_types_start_with_note_and_a_record_takes_the_first_by_default(client, world) -> None:  # type: ignore[no-untyped-def]
    [(first, note_id)] = types(client, world["zhangsan"])
    assert first == "笔记"
    r = client.post("/api/v1/follow-up-types", headers=world["admin"], json={"corp_id": CORP_ID, "name": "上门拜访"})
    assert r.status_code == 201
    visit = r.get_json()["id"]
    assert types(client, world["zhangsan"]) == [("笔记", note_id), ("上门拜访", visit)]
    plain = post(client, world["zhangsan"], customer_id=world["王小明"], text="电话").get_json()
    typed = post(client, world["zhangsan"], customer_id=world["王小明"], text="去了", type_id=visit).get_json()
    assert [(plain["type_id"], plain["type"]), (typed["type_id"], typed["type"])] == [(note_id, "笔记"), (visit, "上门拜访")]
    listed = client.get(f"/api/v1/follow-ups?type_id={visit}", headers=world["zhangsan"]).get_json()["items"]
    assert [f["id"] for f in listed] == [typed["id"]]


def test_a_type_name_is_unique_and_an_unknown_type_is_a_422(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    types(client, world["admin"])
    rejected(runtime, lambda: client.post("/api/v1/follow-up-types", headers=world["admin"],
                                          json={"corp_id": CORP_ID, "name": "笔记"}), 409, "conflict")
    with runtime.WriteSession.begin() as s:
        foreign = FollowUpType(corp_id=OTHER_CORP, name="外")
        s.add(foreign)
        s.flush()
        foreign_id = foreign.id
    error = rejected(runtime, lambda: post(client, world["zhangsan"], customer_id=world["王小明"], text="x",
                                           type_id=foreign_id), 422, "invalid")
    assert list(error["fields"]) == ["type_id"]


def test_a_type_in_use_cannot_be_deleted_and_the_409_says_by_how_many(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    visit = client.post("/api/v1/follow-up-types", headers=world["admin"],
                        json={"corp_id": CORP_ID, "name": "上门拜访"}).get_json()["id"]
    spare = client.post("/api/v1/follow-up-types", headers=world["admin"],
                        json={"corp_id": CORP_ID, "name": "闲置"}).get_json()["id"]
    for text in ("一", "二"):
        post(client, world["zhangsan"], customer_id=world["王小明"], text=text, type_id=visit)
    error = rejected(runtime, lambda: client.delete(f"/api/v1/follow-up-types/{visit}", headers=world["admin"]),
                     409, "conflict")
    assert "used by 2 follow-up records" in error["message"]
    rejected(runtime, lambda: client.delete(f"/api/v1/follow-up-types/{spare}", headers=world["zhangsan"]), 403,
             "forbidden")
    assert client.delete(f"/api/v1/follow-up-types/{spare}", headers=world["admin"]).get_json() == {
        "id": spare, "deleted": True}
    assert [name for name, _ in types(client, world["admin"])] == ["笔记", "上门拜访"]
    with runtime.Session() as s:
        assert s.scalars(select(AuditLog.action).where(AuditLog.action.like("follow_up_type.%"))
                         .order_by(AuditLog.id)).all() == ["follow_up_type.create"] * 2 + ["follow_up_type.delete"]
