"""Hand-overs (客户继承, issue 14 item 4): calls of at most 100 seen by the fake WeCom, each customer's errcode
reported, transfer_result polled until final with the owner moved only on done, the transfer_fail callback,
the 90-day rule applied before calling WeCom, the groups' daily cap, member scope, and bad input refused with
nothing written."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from models import AuditLog, Corp, CustomerGroup, FollowRelation, InheritRule, Staff, Transfer, TransferItem
from models.db import utcnow
from support import CORP_ID
from transfer_support import add_customers, add_groups, build, control, ids_sent, owner

SEND = "externalcontact/transfer_customer"
RESIGNED_SEND = "externalcontact/resigned/transfer_customer"
RESULT = "externalcontact/transfer_result"


@pytest.fixture
def admin(make_token, runtime) -> dict[str, str]:  # type: ignore[no-untyped-def]
    build(runtime)
    return make_token("admin")


def hand_over(client, admin, **body: Any) -> Any:  # type: ignore[no-untyped-def]
    return client.post("/api/v1/transfers", headers=admin,
                       json={"kind": "serving", "handover_userid": "zhangsan", "takeover_userid": "lisi", **body})


def items(runtime: Any) -> dict[str, TransferItem]:
    with runtime.Session() as s:
        return {i.external_userid or i.chat_id: i for i in s.scalars(select(TransferItem).order_by(TransferItem.id))}


def tick(after: dt.timedelta) -> int:
    from jobs.transfers import transfers_tick

    return transfers_tick(now=utcnow() + after)


def test_250_customers_go_in_3_calls_and_only_done_moves_the_owner(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    ids = add_customers(runtime, "zhangsan", 250)
    r = hand_over(client, admin, external_userids=ids, message="您好, 之后由李四为您服务")
    assert r.status_code == 201, r.get_json()
    calls = fake_wecom.calls(SEND)
    assert [len(c["body"]["external_userid"]) for c in calls] == [100, 100, 50]
    assert [x for c in calls for x in c["body"]["external_userid"]] == ids
    assert calls[0]["body"]["transfer_success_msg"] == "您好, 之后由李四为您服务"
    detail = client.get(f"/api/v1/transfers/{r.get_json()['id']}", headers=admin).get_json()
    assert detail["counts"] == {"waiting": 250} and owner(runtime, "cu0001") == "zhangsan"

    assert tick(dt.timedelta(minutes=5)) == 0 and fake_wecom.calls(RESULT) == []  # not due yet: no poll
    control(fake_wecom, "transfers/advance", status=1, external_userid="cu0001")
    control(fake_wecom, "transfers/advance", status=3, external_userid="cu0002")
    control(fake_wecom, "transfers/advance", status=4, external_userid="cu0003")
    assert tick(dt.timedelta(minutes=11)) == 1
    got = items(runtime)
    assert [got[c].status for c in ("cu0001", "cu0002", "cu0003", "cu0004")] == ["done", "refused", "limit", "waiting"]
    assert "拒绝" in got["cu0002"].reason and "上限" in got["cu0003"].reason
    assert owner(runtime, "cu0001") == "lisi" and owner(runtime, "cu0002") == "zhangsan"
    assert owner(runtime, "cu0004") == "zhangsan"  # waiting: still zhangsan's
    with runtime.Session() as s:
        follows = {f.userid: f.status for f in s.scalars(select(FollowRelation).join(FollowRelation.customer)
                                                          .where(FollowRelation.customer.has(external_userid="cu0001")))}
    assert follows == {"zhangsan": "transferred", "lisi": "active"}
    assert got["cu0004"].polls == 1 and got["cu0004"].next_poll_at > utcnow() + dt.timedelta(minutes=30)

    control(fake_wecom, "transfers/advance", status=1)
    assert tick(dt.timedelta(hours=2)) == 1
    detail = client.get(f"/api/v1/transfers/{r.get_json()['id']}", headers=admin).get_json()
    assert detail["counts"] == {"done": 248, "refused": 1, "limit": 1}
    assert owner(runtime, "cu0250") == "lisi"
    assert tick(dt.timedelta(days=2)) == 0  # final: never polled again


def test_a_customer_wecom_refuses_is_reported_with_its_errcode(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    ids = add_customers(runtime, "zhangsan", 3)
    control(fake_wecom, "transfers/refuse", ids={"cu0002": 40098})
    r = hand_over(client, admin, external_userids=ids)
    assert r.status_code == 201
    detail = client.get(f"/api/v1/transfers/{r.get_json()['id']}", headers=admin).get_json()
    by_id = {i["external_userid"]: i for i in detail["items"]}
    assert (by_id["cu0002"]["status"], by_id["cu0002"]["errcode"]) == ("failed", 40098)
    assert "实名" in by_id["cu0002"]["reason"]
    assert by_id["cu0001"]["status"] == "waiting" and by_id["cu0001"]["errcode"] is None
    listed = client.get("/api/v1/transfers?status=failed", headers=admin).get_json()
    assert [t["id"] for t in listed["items"]] == [detail["id"]] and listed["items"][0]["counts"]["failed"] == 1


def test_a_serving_members_groups_go_through_onjob_transfer(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_groups(runtime, "zhangsan", 2)
    r = hand_over(client, admin, chat_ids=["wr0001"])
    assert r.status_code == 201 and r.get_json()["counts"] == {"done": 1}
    assert ids_sent(fake_wecom, "externalcontact/groupchat/onjob_transfer") == [["wr0001"]]
    assert fake_wecom.calls("externalcontact/groupchat/transfer") == [] and fake_wecom.calls(SEND) == []
    with runtime.Session() as s:
        assert dict(s.execute(select(CustomerGroup.chat_id, CustomerGroup.owner_userid)).all()) == \
            {"wr0001": "lisi", "wr0002": "zhangsan"}


def test_a_third_transfer_within_90_days_is_refused_without_calling_wecom(client, admin, runtime,
                                                                         fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, "zhangsan", 1)
    for handover, taker in (("zhangsan", "lisi"), ("lisi", "zhaoliu")):
        assert hand_over(client, admin, handover_userid=handover, takeover_userid=taker,
                         external_userids=["cu0001"]).status_code == 201
        control(fake_wecom, "transfers/advance", status=1)
        tick(dt.timedelta(minutes=11))
    assert owner(runtime, "cu0001") == "zhaoliu" and len(fake_wecom.calls(SEND)) == 2
    r = hand_over(client, admin, handover_userid="zhaoliu", takeover_userid="zhangsan", external_userids=["cu0001"])
    assert r.status_code == 201
    item = r.get_json()["items"][0]
    assert item["status"] == "blocked" and "90" in item["reason"] and item["errcode"] is None
    assert len(fake_wecom.calls(SEND)) == 2  # the fake saw no third call
    assert owner(runtime, "cu0001") == "zhaoliu"


def test_a_refused_transfer_does_not_count_towards_the_90_days(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, "zhangsan", 1)
    for _ in range(2):
        hand_over(client, admin, external_userids=["cu0001"])
        control(fake_wecom, "transfers/advance", status=3)
        tick(dt.timedelta(minutes=11))
    r = hand_over(client, admin, external_userids=["cu0001"])
    assert r.get_json()["items"][0]["status"] == "waiting" and len(fake_wecom.calls(SEND)) == 3


def test_the_transfer_fail_callback_marks_the_item_refused(client, admin, runtime, fake_wecom, sender) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, "zhangsan", 2)
    transfer_id = hand_over(client, admin, external_userids=["cu0001", "cu0002"]).get_json()["id"]
    xml = control(fake_wecom, "transfers/fail", external_userid="cu0001", reason="customer_limit_exceed")["xml"]
    assert sender.post_xml(xml).status_code == 200
    got = items(runtime)
    assert got["cu0001"].status == "limit" and "customer_limit_exceed" in got["cu0001"].reason
    assert got["cu0002"].status == "waiting" and owner(runtime, "cu0001") == "zhangsan"
    with runtime.Session() as s:
        follow = s.scalar(select(FollowRelation).where(FollowRelation.userid == "zhangsan",
                                                       FollowRelation.customer.has(external_userid="cu0001")))
        assert (follow.status, follow.inherit_status) == ("active", "failed")
    detail = client.get(f"/api/v1/transfers/{transfer_id}", headers=admin).get_json()
    assert detail["counts"] == {"limit": 1, "waiting": 1}


def test_a_resigned_members_groups_stop_at_the_daily_cap_and_resume_the_next_day(client, admin, runtime,
                                                                               fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, "wangwu", 3)
    add_groups(runtime, "wangwu", 350)
    listed = client.get("/api/v1/resigned-members", headers=admin).get_json()
    assert [(m["userid"], m["customers_awaiting"], m["groups_awaiting"]) for m in listed["items"]] == \
        [("wangwu", 3, 350)]
    assert listed["items"][0]["departments"] == [{"id": 2, "name": "销售部"}]
    r = client.post("/api/v1/transfers", headers=admin,
                    json={"kind": "resigned", "handover_userid": "wangwu", "takeover_userid": "lisi"})
    assert r.status_code == 201, r.get_json()
    assert ids_sent(fake_wecom, RESIGNED_SEND) == [["cu0001", "cu0002", "cu0003"]]
    assert [len(c) for c in ids_sent(fake_wecom, "externalcontact/groupchat/transfer")] == [100, 100, 100, 50]
    got = items(runtime)
    assert sum(i.status == "done" for i in got.values() if i.chat_id) == 300
    held = [i for i in got.values() if i.chat_id and i.status == "pending"]
    assert len(held) == 50 and "300" in held[0].reason
    assert tick(dt.timedelta(minutes=1)) == 0  # the same day: nothing sent
    assert len(fake_wecom.calls("externalcontact/groupchat/transfer")) == 4
    control(fake_wecom, "transfers/next_day")
    tick(dt.timedelta(days=1))
    assert [len(c) for c in ids_sent(fake_wecom, "externalcontact/groupchat/transfer")] == [100, 100, 100, 50, 50]
    with runtime.Session() as s:
        assert set(s.scalars(select(CustomerGroup.owner_userid))) == {"lisi"}
        assert set(s.scalars(select(CustomerGroup.status))) == {3}  # 离职继承完成
    control(fake_wecom, "transfers/advance", status=1)
    tick(dt.timedelta(days=2))
    assert client.get("/api/v1/resigned-members", headers=admin).get_json()["items"] == []
    done = client.get("/api/v1/resigned-members?tab=done", headers=admin).get_json()["items"]
    assert [(m["userid"], m["customers_handed_over"], m["groups_handed_over"]) for m in done] == \
        [("wangwu", 3, 350)]


def test_members_read_their_own_hand_overs_and_never_write(client, admin, runtime, make_token,
                                                          fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, "zhangsan", 1)
    transfer_id = hand_over(client, admin, external_userids=["cu0001"]).get_json()["id"]
    taker, other = make_token("member", userid="lisi"), make_token("member", userid="qianba")
    assert [t["id"] for t in client.get("/api/v1/transfers", headers=taker).get_json()["items"]] == [transfer_id]
    assert client.get(f"/api/v1/transfers/{transfer_id}", headers=taker).status_code == 200
    assert client.get("/api/v1/transfers", headers=other).get_json()["items"] == []
    assert client.get(f"/api/v1/transfers/{transfer_id}", headers=other).status_code == 404
    assert hand_over(client, taker, external_userids=["cu0001"]).status_code == 403
    assert client.put("/api/v1/inherit-rule", headers=taker, json={"position": "销售"}).status_code == 403
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Transfer)) == 1
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "transfer.create")) == 1


@pytest.mark.parametrize("body, field", [
    ({"handover_userid": "nobody"}, "handover_userid"),
    ({"takeover_userid": "nobody"}, "takeover_userid"),
    ({"takeover_userid": "wangwu"}, "takeover_userid"),  # resigned: cannot take over
    ({"handover_userid": "wangwu"}, "handover_userid"),  # resigned: kind must be resigned
    ({"external_userids": ["cu0001", "wmUnknown"]}, "external_userids"),
    ({"external_userids": ["cu0001"], "message": "话" * 201}, "message"),
    ({"external_userids": []}, "external_userids"),
    ({"external_userids": None}, "external_userids"),  # a serving hand-over names its customers
    ({"chat_ids": ["wrNotHers"]}, "chat_ids"),
])
def test_bad_input_is_refused_with_nothing_written(client, admin, runtime, fake_wecom, body, field) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, "zhangsan", 1)
    r = hand_over(client, admin, **{"external_userids": ["cu0001"], **body})
    assert r.status_code == 422, r.get_json()
    assert field in (r.get_json()["error"].get("fields") or {}) or field in r.get_json()["error"]["message"]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Transfer)) == 0
        assert s.scalar(select(func.count()).select_from(TransferItem)) == 0
    assert fake_wecom.calls(SEND) == []


# -- 离职自动分配 ------------------------------------------------------------------------------------------------
NY = ZoneInfo("America/New_York")  # a corp 13 hours behind Beijing: 10:00 there is 15:00 UTC (winter)


def at_ny(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY).astimezone(dt.UTC)


@pytest.fixture
def new_york(runtime, make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The test corp in New York; wangwu resigned there on 2026-11-28 at 17:00 local."""
    with runtime.WriteSession.begin() as s:
        s.execute(update(Corp).where(Corp.corp_id == CORP_ID).values(timezone="America/New_York"))
    build(runtime, resigned_at=at_ny(2026, 11, 28, 17, 0))
    return make_token("admin")


def inherit(now: dt.datetime) -> int:
    from jobs.inherit import inherit_job

    return inherit_job(now=now)


def test_inheritance_runs_once_at_10_corp_time_and_spreads_evenly(client, new_york, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, "zhangsan", 3)
    add_customers(runtime, "wangwu", 9, start=101)
    r = client.put("/api/v1/inherit-rule", headers=new_york, json={"position": "销售", "spread": "even"})
    assert r.status_code == 200 and r.get_json()["last_run_day"] is None
    assert inherit(at_ny(2026, 11, 29, 9, 59)) == 0 and fake_wecom.calls(RESIGNED_SEND) == []
    assert inherit(at_ny(2026, 11, 29, 10, 0)) == 3
    assert inherit(at_ny(2026, 11, 29, 10, 5)) == 0  # the day's run is claimed: never twice
    sent = {c["body"]["takeover_userid"]: c["body"]["external_userid"] for c in fake_wecom.calls(RESIGNED_SEND)}
    # heirs: 销售 in 销售部 and 华东组 below it (not qianba, 行政); even over what each holds: 3 + 9 = 4 each
    assert {k: len(v) for k, v in sent.items()} == {"zhangsan": 1, "lisi": 4, "zhaoliu": 4}
    assert sorted(x for v in sent.values() for x in v) == [f"cu{i:04d}" for i in range(101, 110)]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Transfer).where(Transfer.auto.is_(True))) == 3
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.actor == "job:inherit")) == 3
    assert client.get("/api/v1/inherit-rule", headers=new_york).get_json()["last_run_day"] == "2026-11-29"


def test_two_workers_at_10_make_the_days_hand_overs_once(client, new_york, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, "wangwu", 6, start=101)
    client.put("/api/v1/inherit-rule", headers=new_york, json={"position": "销售", "spread": "round_robin"})
    with ThreadPoolExecutor(2) as pool:
        made = list(pool.map(inherit, [at_ny(2026, 11, 29, 10, 0), at_ny(2026, 11, 29, 10, 1)]))
    assert sorted(made) == [0, 3]
    sent = sorted((c["body"]["takeover_userid"], c["body"]["external_userid"]) for c in fake_wecom.calls(RESIGNED_SEND))
    assert sent == [("lisi", ["cu0101", "cu0104"]), ("zhangsan", ["cu0102", "cu0105"]),
                    ("zhaoliu", ["cu0103", "cu0106"])]


def test_nobody_qualifying_leaves_the_customers_with_the_fallback_until_an_heir_exists(
        client, new_york, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, "wangwu", 2, start=101)
    client.put("/api/v1/inherit-rule", headers=new_york,
               json={"position": "客户经理", "spread": "round_robin", "fallback_userid": "kefu"})
    assert inherit(at_ny(2026, 11, 29, 10, 0)) == 1
    assert [(c["body"]["takeover_userid"], c["body"]["external_userid"]) for c in fake_wecom.calls(RESIGNED_SEND)] \
        == [("kefu", ["cu0101", "cu0102"])]
    control(fake_wecom, "transfers/advance", status=1)
    tick(dt.timedelta(minutes=11))
    assert owner(runtime, "cu0101") == "kefu"
    assert inherit(at_ny(2026, 11, 30, 10, 0)) == 0 and fake_wecom.calls(SEND) == []  # still nobody
    with runtime.WriteSession.begin() as s:
        s.add(Staff(corp_id=CORP_ID, userid="sunqi", name="孙七", department=[3], position="客户经理"))
    assert inherit(at_ny(2026, 12, 1, 10, 0)) == 1
    assert [(c["body"]["handover_userid"], c["body"]["takeover_userid"], c["body"]["external_userid"])
            for c in fake_wecom.calls(SEND)] == [("kefu", "sunqi", ["cu0101", "cu0102"])]
    assert inherit(at_ny(2026, 12, 2, 10, 0)) == 0  # waiting at sunqi's: not handed over again


def test_the_rule_needs_an_active_fallback(client, new_york, runtime) -> None:  # type: ignore[no-untyped-def]
    r = client.put("/api/v1/inherit-rule", headers=new_york, json={"fallback_userid": "wangwu"})
    assert r.status_code == 422 and "fallback_userid" in r.get_json()["error"]["fields"]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(InheritRule)) == 0


def test_the_resigned_list_is_read_from_wecom_page_by_page(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    from jobs import unassigned

    add_customers(runtime, "lisi", 3)
    gone = int(dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC).timestamp())
    info = [{"handover_userid": "lisi", "external_userid": f"cu{i:04d}", "dimission_time": gone} for i in (1, 2, 3)]
    control(fake_wecom, "unassigned", info=info)
    unassigned.PAGE_SIZE, size = 2, unassigned.PAGE_SIZE
    try:
        r = client.post("/api/v1/resigned-members/sync", headers=admin, json={})
    finally:
        unassigned.PAGE_SIZE = size
    assert r.status_code == 202, r.get_json()
    assert [c["body"]["cursor"] for c in fake_wecom.calls("externalcontact/get_unassigned_list")] == ["", "2"]
    job = client.get(r.headers["Location"], headers=admin).get_json()
    assert job["state"] == "done" and job["result"] == {"listed": 3, "unknown_customers": 0}
    listed = client.get("/api/v1/resigned-members?since=2026-11-20&until=2026-11-20", headers=admin).get_json()
    assert [(m["userid"], m["customers_awaiting"], m["resigned_at"]) for m in listed["items"]] == \
        [("lisi", 3, "2026-11-20T02:00:00+00:00")]
    assert client.get("/api/v1/resigned-members?since=2026-11-21", headers=admin).get_json()["items"] == []
