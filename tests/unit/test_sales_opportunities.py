"""Opportunities (商机) and the corp's stages over the admin API: required fields, integer-cent amounts, the
stage rules (no skipping, lost is final, unless the corp allows it), the stage history with who and when,
one pinned per customer, and a member's scope. Customers from customer_world: zhangsan follows 王小明,
lisi alone follows 赵六."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from customer_world import build, rejected
from models import AuditLog, Opportunity, StageChange
from support import CORP_ID


@pytest.fixture
def world(client, runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    admin = make_token("admin", name="adm")
    stages = {}
    for name, probability in (("初步接洽", 10), ("演示", 40), ("合同签约", 80)):
        r = client.post("/api/v1/opportunity-stages", headers=admin,
                        json={"corp_id": CORP_ID, "name": name, "probability": probability})
        assert r.status_code == 201, r.get_json()
        stages[name] = r.get_json()["id"]
    listed = client.get("/api/v1/opportunity-stages", headers=admin, query_string={"corp_id": CORP_ID}).get_json()
    stages |= {s["outcome"]: s["id"] for s in listed["items"] if s["outcome"] != "open"}
    reason = client.post("/api/v1/lost-reasons", headers=admin, json={"corp_id": CORP_ID, "name": "价格太高"})
    assert reason.status_code == 201, reason.get_json()
    return {**ids, "stages": stages, "admin": admin, "listed": listed["items"], "reason": reason.get_json()["id"],
            "zhangsan": make_token("member", userid="zhangsan", name="zs"),
            "lisi": make_token("member", userid="lisi", name="ls")}


def deal(client, world, headers: str = "zhangsan", customer: str = "王小明", **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"customer_id": world[customer], "name": "年度合同", "stage_id": world["stages"]["初步接洽"],
            "amount_cents": 1234567, "expected_close": "2026-12-31", **extra}
    r = client.post("/api/v1/opportunities", headers=world[headers], json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def move(client, world, pk: int, stage: str, headers: str = "zhangsan"):  # type: ignore[no-untyped-def]
    """Move deal `pk` to `stage` (to lost with the corp's reason 价格太高)."""
    reason = {"lost_reason_id": world["reason"]} if stage == "lost" else {}
    return client.post(f"/api/v1/opportunities/{pk}/stage", headers=world[headers],
                       json={"stage_id": world["stages"][stage], **reason})


def allow(client, make_token, **flags: bool) -> None:  # type: ignore[no-untyped-def]
    """Turn a corp flag on as an operator does (PATCH /settings, super_admin)."""
    r = client.patch("/api/v1/settings", headers=make_token("super_admin", name="root"),
                     json={"corp_id": CORP_ID, **flags})
    assert r.status_code == 200 and all(r.get_json()[k] is v for k, v in flags.items()), r.get_json()


def test_stages_are_ordered_with_won_and_lost_last(world) -> None:  # type: ignore[no-untyped-def]
    assert [(s["name"], s["probability"], s["outcome"]) for s in world["listed"]] == [
        ("初步接洽", 10, "open"), ("演示", 40, "open"), ("合同签约", 80, "open"), ("赢单", 100, "won"),
        ("输单", 0, "lost")]


def test_reordering_a_stage_renumbers_the_open_ones(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.patch(f"/api/v1/opportunity-stages/{world['stages']['合同签约']}", headers=world["admin"],
                     json={"position": 0, "probability": 90})
    assert (r.status_code, r.get_json()["position"], r.get_json()["probability"]) == (200, 0, 90)
    names = [s["name"] for s in client.get("/api/v1/opportunity-stages", headers=world["admin"],
                                           query_string={"corp_id": CORP_ID}).get_json()["items"]]
    assert names == ["合同签约", "初步接洽", "演示", "赢单", "输单"]
    r = client.patch(f"/api/v1/opportunity-stages/{world['stages']['won']}", headers=world["admin"],
                     json={"position": 0})
    assert r.status_code == 409


def test_an_opportunity_keeps_integer_cents_and_its_creation_in_the_history(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    body = deal(client, world)
    assert (body["amount_cents"], body["owner"], body["expected_close"]) == (1234567, "zhangsan", "2026-12-31")
    [created] = body["history"]
    assert (created["from_stage_id"], created["to_stage_id"], created["userid"]) == (
        None, world["stages"]["初步接洽"], "zhangsan")
    with runtime.Session() as s:
        assert s.scalar(select(Opportunity.amount_cents)) == 1234567
        assert s.scalar(select(AuditLog.action).where(AuditLog.target == f"opportunity:{body['id']}")) == \
            "opportunity.create"


@pytest.mark.parametrize("field", ["customer_id", "name", "stage_id", "amount_cents", "expected_close"])
def test_each_required_field_missing_is_a_422_naming_it(client, runtime, world, field) -> None:  # type: ignore[no-untyped-def]
    body = {"customer_id": world["王小明"], "name": "x", "stage_id": world["stages"]["初步接洽"],
            "amount_cents": 100, "expected_close": "2026-12-31"}
    del body[field]
    error = rejected(runtime, lambda: client.post("/api/v1/opportunities", headers=world["zhangsan"], json=body),
                     422, "invalid")
    assert list(error["fields"]) == [field]


@pytest.mark.parametrize("amount", [12.5, "100", -1])
def test_an_amount_is_whole_non_negative_cents(client, runtime, world, amount) -> None:  # type: ignore[no-untyped-def]
    body = {"customer_id": world["王小明"], "name": "x", "stage_id": world["stages"]["初步接洽"],
            "amount_cents": amount, "expected_close": "2026-12-31"}
    error = rejected(runtime, lambda: client.post("/api/v1/opportunities", headers=world["zhangsan"], json=body),
                     422, "invalid")
    assert list(error["fields"]) == ["amount_cents"]


def test_skipping_a_stage_is_refused_unless_the_corp_allows_it(client, runtime, world, make_token) -> None:  # type: ignore[no-untyped-def]
    pk = deal(client, world)["id"]
    error = rejected(runtime, lambda: move(client, world, pk, "合同签约"), 409, "conflict")
    assert "allow_stage_skip" in error["message"]
    rejected(runtime, lambda: move(client, world, pk, "won"), 409, "conflict")
    assert move(client, world, pk, "演示").status_code == 200  # the next stage
    rejected(runtime, lambda: move(client, world, pk, "初步接洽"), 409, "conflict")  # not backwards either
    allow(client, make_token, allow_stage_skip=True)
    assert move(client, world, pk, "won").status_code == 200
    error = rejected(runtime, lambda: move(client, world, pk, "演示"), 409, "conflict")
    assert error["message"] == "a won opportunity is final"


def test_the_last_open_stage_moves_to_won_and_any_stage_to_lost(client, world) -> None:  # type: ignore[no-untyped-def]
    pk = deal(client, world)["id"]
    assert move(client, world, pk, "演示").status_code == 200
    assert move(client, world, pk, "合同签约").status_code == 200
    assert move(client, world, pk, "won").status_code == 200
    other = deal(client, world)["id"]
    r = client.post(f"/api/v1/opportunities/{other}/stage", headers=world["zhangsan"],
                    json={"stage_id": world["stages"]["lost"], "lost_reason_id": world["reason"]})
    assert (r.status_code, r.get_json()["lost_reason"], r.get_json()["lost_reason_id"]) == (
        200, "价格太高", world["reason"])


def test_reopening_a_lost_deal_is_refused_unless_the_corp_allows_it(client, runtime, world, make_token) -> None:  # type: ignore[no-untyped-def]
    pk = deal(client, world)["id"]
    assert move(client, world, pk, "lost").status_code == 200
    error = rejected(runtime, lambda: move(client, world, pk, "初步接洽"), 409, "conflict")
    assert "allow_reopen_lost" in error["message"]
    allow(client, make_token, allow_reopen_lost=True)
    rejected(runtime, lambda: move(client, world, pk, "won"), 409, "conflict")  # reopens at an open stage
    r = move(client, world, pk, "演示", headers="admin")
    assert (r.status_code, r.get_json()["stage_id"], r.get_json()["lost_reason"], r.get_json()["lost_reason_id"]) == (
        200, world["stages"]["演示"], "", None)


def test_the_stage_history_says_who_and_when(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    pk = deal(client, world)["id"]
    move(client, world, pk, "演示")
    move(client, world, pk, "lost", headers="admin")
    history = client.get(f"/api/v1/opportunities/{pk}", headers=world["zhangsan"]).get_json()["history"]
    s = world["stages"]
    assert [(h["from_stage_id"], h["to_stage_id"], h["userid"], h["actor"]) for h in history] == [
        (None, s["初步接洽"], "zhangsan", "token:zs"), (s["初步接洽"], s["演示"], "zhangsan", "token:zs"),
        (s["演示"], s["lost"], None, "token:adm")]
    assert all(dt.datetime.fromisoformat(h["at"]) >= before for h in history)
    with runtime.Session() as db:
        assert db.query(StageChange).count() == 3
        assert db.scalars(select(AuditLog.action).where(AuditLog.action == "opportunity.stage")).all() == [
            "opportunity.stage"] * 2


def test_one_pinned_opportunity_per_customer(client, world) -> None:  # type: ignore[no-untyped-def]
    first = deal(client, world, pinned=True)["id"]
    second = deal(client, world)["id"]
    r = client.patch(f"/api/v1/opportunities/{second}", headers=world["zhangsan"], json={"pinned": True})
    assert r.get_json()["pinned"] is True
    items = client.get(f"/api/v1/opportunities?customer_id={world['王小明']}", headers=world["zhangsan"]).get_json()
    assert [(o["id"], o["pinned"]) for o in items["items"]] == [(second, True), (first, False)]


def test_a_member_neither_reads_nor_writes_another_members_deals(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    theirs = deal(client, world, headers="lisi", customer="赵六")["id"]
    mine = deal(client, world)["id"]
    assert client.get(f"/api/v1/opportunities/{theirs}", headers=world["zhangsan"]).status_code == 404
    assert client.get(f"/api/v1/opportunities?customer_id={world['赵六']}",
                      headers=world["zhangsan"]).status_code == 404
    assert client.get("/api/v1/opportunities?owner=lisi", headers=world["zhangsan"]).get_json()["items"] == []
    assert [o["id"] for o in client.get("/api/v1/opportunities", headers=world["zhangsan"]).get_json()["items"]] == [
        mine]
    rejected(runtime, lambda: client.patch(f"/api/v1/opportunities/{theirs}", headers=world["zhangsan"],
                                           json={"amount_cents": 1}), 404, "not_found")
    rejected(runtime, lambda: move(client, world, theirs, "演示"), 404, "not_found")
    rejected(runtime, lambda: deal_on(client, world, "赵六"), 404, "not_found")
    rejected(runtime, lambda: client.post("/api/v1/opportunity-stages", headers=world["zhangsan"],
                                          json={"name": "x"}), 403, "forbidden")


def deal_on(client, world, customer: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/opportunities", headers=world["zhangsan"], json={
        "customer_id": world[customer], "name": "x", "stage_id": world["stages"]["初步接洽"], "amount_cents": 1,
        "expected_close": "2026-12-31"})


def test_a_stage_of_another_corp_is_unknown(client, runtime, world, make_token) -> None:  # type: ignore[no-untyped-def]
    from customer_world import OTHER_CORP
    from models import OpportunityStage
    with runtime.WriteSession.begin() as s:
        foreign = OpportunityStage(corp_id=OTHER_CORP, name="外", outcome="open")
        s.add(foreign)
        s.flush()
        foreign_id = foreign.id
    body = {"customer_id": world["王小明"], "name": "x", "stage_id": foreign_id, "amount_cents": 1,
            "expected_close": "2026-12-31"}
    error = rejected(runtime, lambda: client.post("/api/v1/opportunities", headers=world["zhangsan"], json=body),
                     422, "invalid")
    assert list(error["fields"]) == ["stage_id"]
