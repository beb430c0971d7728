"""The public pool (公海) over the admin API: pools and who sees them (适用部门 and below), return reasons,
return by the follower, claim with the corp's limit (the N+1th a 409) and the pool's cool-down (day N-1
refused, day N allowed, in the corp's local days), assign with an app message, delete to the recycle bin,
the CSV export, each customer's history; bad input changes nothing; no WeCom call touches the friendship.
Customers from customer_world: zhangsan follows 王小明, lisi follows 赵六 and 孙七."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from customer_world import build, rejected
from models import AuditLog, Customer, Department, FollowRelation, Lead, Staff
from models.db import utcnow
from rules.pool_days import midnight
from support import CORP_ID, MISSING_ID

BJ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def world(client, runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    with runtime.WriteSession.begin() as s:  # 销售部 (1) > 华东组 (2); zhangsan in 华东组, lisi in 客服部 (3)
        s.add_all([Department(corp_id=CORP_ID, dept_id=1, name="销售部"),
                   Department(corp_id=CORP_ID, dept_id=2, name="华东组", parent_id=1),
                   Department(corp_id=CORP_ID, dept_id=3, name="客服部")])
        s.execute(update(Staff).where(Staff.userid == "zhangsan").values(department=[2]))
        s.execute(update(Staff).where(Staff.userid == "lisi").values(department=[3]))
    admin = make_token("admin", name="adm")
    reason = client.post("/api/v1/pool-return-reasons", headers=admin, json={"corp_id": CORP_ID, "name": "无意向"})
    assert reason.status_code == 201, reason.get_json()
    return {**ids, "admin": admin, "root": make_token("super_admin", name="root"), "reason": reason.get_json()["id"],
            "zhangsan": make_token("member", userid="zhangsan", name="zs"),
            "lisi": make_token("member", userid="lisi", name="ls")}


def pool(client, world, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/pools", headers=world["admin"], json={"corp_id": CORP_ID, "name": "销售公海", **body})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def give_back(client, world, who: str, customer: str, **body: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/pool-customers", headers=world[who],
                       json={"customer_id": world[customer], "reason_id": world["reason"], **body})


def test_pools_are_seen_by_their_departments_and_below(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    sales = pool(client, world, departments=[1], claim_lock_days=3, never_followed_days=7)
    assert (sales["departments"], sales["claim_lock_days"], sales["never_followed_days"], sales["idle_days"]) == (
        [1], 3, 7, None)

    def names(who: str) -> list[str]:
        r = client.get("/api/v1/pools", headers=world[who], query_string={"corp_id": CORP_ID})
        return [p["name"] for p in r.get_json()["items"]]

    assert names("admin") == ["默认公海", "销售公海"]
    assert names("zhangsan") == ["默认公海", "销售公海"]  # 华东组 is below 销售部
    assert names("lisi") == ["默认公海"]
    assert client.get(f"/api/v1/pools/{sales['id']}", headers=world["lisi"]).status_code == 404
    rejected(runtime, lambda: client.post("/api/v1/pools", headers=world["admin"],
                                          json={"corp_id": CORP_ID, "name": "默认公海"}), 409, "conflict")
    rejected(runtime, lambda: client.patch(f"/api/v1/pools/{sales['id']}", headers=world["admin"],
                                           json={"name": "默认公海"}), 409, "conflict")
    rejected(runtime, lambda: client.patch(f"/api/v1/pools/{sales['id']}", headers=world["admin"],
                                           json={"departments": None}), 422, "invalid")
    r = client.patch(f"/api/v1/pools/{sales['id']}", headers=world["admin"], json={"never_followed_days": None,
                                                                                  "warn_days": 2})
    assert (r.status_code, r.get_json()["never_followed_days"], r.get_json()["warn_days"]) == (200, None, 2)


def test_a_member_returns_their_customer_with_a_reason(client, runtime, world, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    sales = pool(client, world, departments=[1])
    r = give_back(client, world, "zhangsan", "王小明", pool_id=sales["id"])
    assert r.status_code == 201, r.get_json()
    assert r.get_json() == {"id": world["王小明"], "pool_id": sales["id"], "owner_userid": None, "action": "returned"}
    listed = client.get("/api/v1/pool-customers", headers=world["zhangsan"],
                        query_string={"pool_id": sales["id"]}).get_json()
    [row] = listed["items"]
    assert (row["name"], row["pool"], row["reason"], row["left_by"], row["mobile"]) == (
        "王小明", "销售公海", "无意向", "zhangsan", "138****1111")
    assert client.get("/api/v1/pool-customers", headers=world["lisi"]).get_json()["total"] == 0  # not 客服部's pool
    [move] = client.get(f"/api/v1/pool-customers/{world['王小明']}/history",
                        headers=world["admin"]).get_json()["items"]
    assert (move["action"], move["userid"], move["by"], move["reason"]) == ("returned", "zhangsan", "token:zs",
                                                                            "无意向")
    with runtime.Session() as s:
        assert s.scalar(select(FollowRelation.status).where(FollowRelation.customer_id == world["王小明"],
                                                            FollowRelation.userid == "zhangsan")) == "active"
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "pool.returned")) == "pool.returned"
    assert not [c for c in fake_wecom.calls() if c["path"] != "gettoken"]


def test_bad_returns_change_nothing(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    sales = pool(client, world, departments=[1])
    rejected(runtime, lambda: give_back(client, world, "lisi", "赵六", pool_id=sales["id"]), 404, "not_found")
    rejected(runtime, lambda: give_back(client, world, "zhangsan", "王小明", reason_id=MISSING_ID), 422, "invalid")
    rejected(runtime, lambda: give_back(client, world, "zhangsan", "赵六"), 404, "not_found")  # not theirs to see
    rejected(runtime, lambda: give_back(client, world, "admin", "赵六", userid="zhangsan"), 409, "conflict")
    assert give_back(client, world, "zhangsan", "王小明").get_json()["pool_id"] is not None  # the default pool
    rejected(runtime, lambda: give_back(client, world, "admin", "王小明", userid="zhangsan"), 409, "conflict")


def test_the_claim_limit_refuses_the_n_plus_first(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    for customer in ("赵六", "孙七"):
        assert give_back(client, world, "lisi", customer).status_code == 201
    r = client.put("/api/v1/pool-settings", headers=world["admin"], json={"corp_id": CORP_ID, "claim_limit": 2})
    assert r.get_json() == {"corp_id": CORP_ID, "claim_limit": 2}
    r = client.post(f"/api/v1/pool-customers/{world['赵六']}/claim", headers=world["zhangsan"], json={})
    assert r.get_json() == {"id": world["赵六"], "pool_id": r.get_json()["pool_id"], "owner_userid": "zhangsan",
                            "action": "claimed"}  # zhangsan now holds 王小明 and 赵六: 2
    error = rejected(runtime, lambda: client.post(f"/api/v1/pool-customers/{world['孙七']}/claim",
                                                  headers=world["zhangsan"], json={}), 409, "claim_limit")
    assert "holds 2 customers" in error["message"] and "limit is 2" in error["message"]
    with runtime.Session() as s:
        assert s.get(Customer, world["赵六"]).assigned_at is not None


def test_a_claimed_customer_is_in_the_claimers_customer_list(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    """A claim makes the member the owner (跟进人) without a WeCom friendship: their GET /customers (and the
    customer's own page) show it, through the one customers scope."""
    def names(who: str) -> list[str]:
        return sorted(c["name"] for c in client.get("/api/v1/customers", headers=world[who]).get_json()["items"])

    assert give_back(client, world, "lisi", "赵六").status_code == 201
    assert "赵六" not in names("zhangsan")
    assert client.post(f"/api/v1/pool-customers/{world['赵六']}/claim", headers=world["zhangsan"],
                       json={}).status_code == 200
    assert "赵六" in names("zhangsan")
    assert client.get(f"/api/v1/customers/{world['赵六']}", headers=world["zhangsan"]).status_code == 200
    with runtime.Session() as s:  # no friendship was made: the claim alone puts it in zhangsan's scope
        assert s.scalar(select(FollowRelation.id).where(FollowRelation.customer_id == world["赵六"],
                                                        FollowRelation.userid == "zhangsan")) is None


def test_the_cool_down_opens_on_the_nth_local_day(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    sales = pool(client, world, claim_lock_days=3)
    assert give_back(client, world, "zhangsan", "王小明", pool_id=sales["id"]).status_code == 201
    today = utcnow().astimezone(BJ).date()

    def returned_at(at: dt.datetime) -> None:
        with runtime.WriteSession.begin() as s:
            s.execute(update(Customer).where(Customer.id == world["王小明"]).values(pooled_at=at))

    def claim():  # type: ignore[no-untyped-def]
        return client.post(f"/api/v1/pool-customers/{world['王小明']}/claim", headers=world["zhangsan"], json={})

    returned_at(midnight(today - dt.timedelta(days=2), BJ))  # 00:00 two local days ago: today is day N-1
    error = rejected(runtime, claim, 409, "cool_down")
    assert f"from {today + dt.timedelta(days=1)}" in error["message"]
    returned_at(midnight(today - dt.timedelta(days=2), BJ) - dt.timedelta(minutes=1))  # 23:59 three days ago: day N
    assert claim().status_code == 200


def test_admins_assign_and_the_member_is_told(client, runtime, world, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    give_back(client, world, "zhangsan", "王小明")
    rejected(runtime, lambda: client.post(f"/api/v1/pool-customers/{world['王小明']}/assign",
                                          headers=world["admin"], json={"userid": "nobody"}), 422, "invalid")
    rejected(runtime, lambda: client.post(f"/api/v1/pool-customers/{world['王小明']}/assign",
                                          headers=world["zhangsan"], json={"userid": "lisi"}), 403, "forbidden")
    r = client.post(f"/api/v1/pool-customers/{world['王小明']}/assign", headers=world["admin"], json={"userid": "lisi"})
    assert (r.status_code, r.get_json()["owner_userid"]) == (200, "lisi")
    [sent] = fake_wecom.calls("message/send")
    assert sent["body"]["touser"] == "lisi" and "王小明" in sent["body"]["text"]["content"]
    history = client.get(f"/api/v1/pool-customers/{world['王小明']}/history", headers=world["admin"]).get_json()
    assert [(m["action"], m["userid"]) for m in history["items"]] == [("returned", "zhangsan"), ("assigned", "lisi")]
    r = client.post(f"/api/v1/pool-customers/{world['王小明']}/assign", headers=world["admin"], json={"userid": "lisi"})
    assert r.status_code == 404  # no longer in a pool
    assert [c["path"] for c in fake_wecom.calls() if c["path"] != "gettoken"] == ["message/send"]


def test_only_a_super_admin_deletes_to_the_recycle_bin(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    give_back(client, world, "lisi", "赵六")
    rejected(runtime, lambda: client.delete(f"/api/v1/pool-customers/{world['赵六']}", headers=world["admin"]), 403,
             "forbidden")
    r = client.delete(f"/api/v1/pool-customers/{world['赵六']}", headers=world["root"])
    assert r.get_json()["action"] == "deleted"
    with runtime.Session() as s:
        assert s.get(Customer, world["赵六"]).deleted_at is not None
    assert client.get("/api/v1/pool-customers", headers=world["admin"]).get_json()["total"] == 0


def test_the_export_is_a_csv_of_the_filtered_list(client, world) -> None:  # type: ignore[no-untyped-def]
    give_back(client, world, "lisi", "赵六")
    give_back(client, world, "zhangsan", "王小明")
    r = client.get("/api/v1/pool-customers/export", headers=world["admin"], query_string={"left_by": "lisi"})
    lines = r.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("客户ID,名称") and len(lines) == 2 and "赵六" in lines[1] and "无意向" in lines[1]
    assert client.get("/api/v1/pool-customers/export", headers=world["lisi"]).status_code == 403


def test_a_reason_in_use_is_kept(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    def add():  # type: ignore[no-untyped-def]
        return client.post("/api/v1/pool-return-reasons", headers=world["admin"],
                           json={"corp_id": CORP_ID, "name": "联系不上"})

    spare = add().get_json()
    rejected(runtime, add, 409, "conflict")
    error = rejected(runtime, lambda: client.patch(f"/api/v1/pool-return-reasons/{spare['id']}",
                                                   headers=world["admin"], json={"name": "无意向"}), 409, "conflict")
    assert "无意向" in error["message"]
    give_back(client, world, "lisi", "赵六")
    rejected(runtime, lambda: client.delete(f"/api/v1/pool-return-reasons/{world['reason']}", headers=world["admin"]),
             409, "conflict")
    assert client.delete(f"/api/v1/pool-return-reasons/{spare['id']}", headers=world["admin"]).status_code == 200
    listed = client.get("/api/v1/pool-return-reasons", headers=world["lisi"]).get_json()
    names = [r["name"] for r in listed["items"]]
    assert names == ["无意向"]


# -- the default pool's leads: the corp's unassigned ones ------------------------------------------------------
def lead(client, world, name: str, **body: Any) -> int:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/leads", headers=world["admin"], json={"corp_id": CORP_ID, "name": name, **body})
    assert r.status_code == 201, r.get_json()
    return int(r.get_json()["id"])


def default_pool_for(client, world, departments: list[int]) -> int:  # type: ignore[no-untyped-def]
    [default] = [p for p in client.get("/api/v1/pools", headers=world["admin"],
                                      query_string={"corp_id": CORP_ID}).get_json()["items"]
                 if p["name"] == "默认公海"]
    assert client.patch(f"/api/v1/pools/{default['id']}", headers=world["admin"],
                        json={"departments": departments}).status_code == 200
    return int(default["id"])


def pool_leads(client, world, who: str, **query: Any) -> list[str]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/pool-leads", headers=world[who], query_string=query)
    assert r.status_code == 200, r.get_json()
    return [row["name"] for row in r.get_json()["items"]]


def claim_lead(client, world, who: str, lead_id: int, **body: Any):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/pool-leads/{lead_id}/claim", headers=world[who], json=body)


def test_unassigned_leads_are_in_the_default_pool_for_its_departments(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    default = default_pool_for(client, world, [1])  # 销售部 and below: zhangsan, not lisi
    sales = pool(client, world)
    open_id = lead(client, world, "公海甲", mobile="13900000001")
    lead(client, world, "已分配", owner="lisi")
    discarded = lead(client, world, "已废弃")
    assert client.post(f"/api/v1/leads/{discarded}/discard", headers=world["admin"]).status_code == 200
    assert pool_leads(client, world, "admin") == pool_leads(client, world, "zhangsan") == ["公海甲"]
    assert pool_leads(client, world, "zhangsan", pool_id=default) == ["公海甲"]
    assert pool_leads(client, world, "zhangsan", pool_id=sales["id"]) == []  # only the default pool holds leads
    [row] = client.get("/api/v1/pool-leads", headers=world["zhangsan"]).get_json()["items"]
    assert (row["id"], row["owner"], row["mobile"]) == (open_id, None, "139****0001")  # masked for a member
    assert pool_leads(client, world, "lisi") == []  # 客服部 does not see the default pool
    assert client.get("/api/v1/pool-leads", headers=world["lisi"], query_string={"pool_id": default}).status_code == 404
    rejected(runtime, lambda: claim_lead(client, world, "lisi", open_id), 404, "not_found")
    rejected(runtime, lambda: claim_lead(client, world, "admin", open_id, userid="lisi"), 404, "not_found")


def test_a_member_claims_a_pool_lead_and_is_told_once(client, runtime, world, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    lead_id = lead(client, world, "公海甲", company="甲公司")
    r = claim_lead(client, world, "zhangsan", lead_id)
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["owner"], r.get_json()["status"]) == ("zhangsan", "assigned")
    with runtime.Session() as s:
        assert s.get(Lead, lead_id).owner_userid == "zhangsan"
        assert s.scalar(select(AuditLog.target).where(AuditLog.action == "pool.lead_claimed")) == f"lead:{lead_id}"
    [sent] = fake_wecom.calls("message/send")
    assert sent["body"]["touser"] == "zhangsan" and "公海甲" in sent["body"]["text"]["content"]
    assert pool_leads(client, world, "zhangsan") == []
    rejected(runtime, lambda: claim_lead(client, world, "lisi", lead_id), 404, "not_found")  # gone from the pool
    assert len(fake_wecom.calls("message/send")) == 1


def test_bad_lead_claims_change_nothing(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    lead_id = lead(client, world, "公海甲")
    rejected(runtime, lambda: claim_lead(client, world, "zhangsan", 999999), 404, "not_found")
    rejected(runtime, lambda: claim_lead(client, world, "zhangsan", lead_id, userid="lisi"), 403, "forbidden")
    rejected(runtime, lambda: claim_lead(client, world, "admin", lead_id), 422, "invalid")
    rejected(runtime, lambda: claim_lead(client, world, "admin", lead_id, userid="nobody"), 422, "invalid")


def test_leads_and_customers_count_toward_one_claim_limit(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    first, second = lead(client, world, "公海甲"), lead(client, world, "公海乙")
    assert give_back(client, world, "lisi", "赵六").status_code == 201
    client.put("/api/v1/pool-settings", headers=world["admin"], json={"corp_id": CORP_ID, "claim_limit": 2})
    assert claim_lead(client, world, "zhangsan", first).status_code == 200  # 王小明 and 公海甲: 2
    error = rejected(runtime, lambda: claim_lead(client, world, "zhangsan", second), 409, "claim_limit")
    assert "holds 1 customers and 1 leads" in error["message"]
    rejected(runtime, lambda: client.post(f"/api/v1/pool-customers/{world['赵六']}/claim", headers=world["zhangsan"],
                                          json={}), 409, "claim_limit")
    assert claim_lead(client, world, "lisi", second).status_code == 200  # lisi holds 孙七 only
