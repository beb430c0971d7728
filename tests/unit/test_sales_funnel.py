"""The funnel, sales targets and follow-up counts (003 销售漏斗, 目标完成分析, 联系记录统计) on a fixed data set,
every figure worked out by hand below, in a corp on Los Angeles time (UTC-8 in the week used, UTC-7 until
2024-11-03), with deals and follow-ups placed on both sides of the period edges.

Directory: department 1 总部 ⊃ 2 销售部 (led by zhangsan) ⊃ 3 华东组. zhangsan is in 2, lisi in 3, zhaoliu in 1.
Stages (from test_sales_opportunities' world): 初步接洽 10 %, 演示 40 %, 合同签约 80 %, 赢单 (won), 输单 (lost).
Times are Los Angeles wall-clock times. The week is 2024-11-11 (Mon) to 2024-11-17 (Sun): in UTC
[2024-11-11 08:00, 2024-11-18 08:00).

    D1 zhangsan ¥1,000   created 11-11 09:00 初步接洽; 11-13 09:00 → 演示 (stays)
    D2 zhangsan ¥2,000   created 11-12 09:00 初步接洽; 11-12 21:00 → 演示; 11-14 09:00 → 合同签约; 11-15 09:00 → won
    D3 lisi     ¥3,000   created 11-17 23:30 初步接洽 (11-18 07:30 UTC: in the week); 11-18 01:00 → 演示 (after it)
    D4 lisi     ¥4,000   created 11-10 23:00 (11-11 07:00 UTC: before the week); 11-12 10:00 → lost
    D5 zhaoliu  ¥5,000   created 11-13 10:00 at 演示 (skipped); 11-14 16:00 → lost
    D6 zhangsan ¥6,000   created 11-01 09:00 初步接洽; 11-30 23:30 → won (12-01 07:30 UTC: still November here)
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, update

from customer_world import rejected
from models import Corp, Department, FollowUp, FollowUpType, Opportunity, SalesTarget, StageChange, Staff
from support import CORP_ID
from test_sales_opportunities import world  # noqa: F401  (the fixture)

LA = ZoneInfo("America/Los_Angeles")
WEEK = {"corp_id": CORP_ID, "period": "week", "date": "2024-11-14"}


def la(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LA)


@pytest.fixture
def sales(runtime, world, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]  # noqa: F811
    st = world["stages"]
    deals = {  # name: (owner, cents, [(LA time, stage)], the first being the creation)
        "D1": ("zhangsan", 100_000, [(la(2024, 11, 11, 9), "初步接洽"), (la(2024, 11, 13, 9), "演示")]),
        "D2": ("zhangsan", 200_000, [(la(2024, 11, 12, 9), "初步接洽"), (la(2024, 11, 12, 21), "演示"),
                                     (la(2024, 11, 14, 9), "合同签约"), (la(2024, 11, 15, 9), "won")]),
        "D3": ("lisi", 300_000, [(la(2024, 11, 17, 23, 30), "初步接洽"), (la(2024, 11, 18, 1), "演示")]),
        "D4": ("lisi", 400_000, [(la(2024, 11, 10, 23), "初步接洽"), (la(2024, 11, 12, 10), "lost")]),
        "D5": ("zhaoliu", 500_000, [(la(2024, 11, 13, 10), "演示"), (la(2024, 11, 14, 16), "lost")]),
        "D6": ("zhangsan", 600_000, [(la(2024, 11, 1, 9), "初步接洽"), (la(2024, 11, 30, 23, 30), "won")]),
    }
    with runtime.WriteSession.begin() as s:
        s.execute(update(Corp).where(Corp.corp_id == CORP_ID).values(timezone="America/Los_Angeles"))
        s.add_all([Department(corp_id=CORP_ID, dept_id=1, name="总部", parent_id=None),
                   Department(corp_id=CORP_ID, dept_id=2, name="销售部", parent_id=1, leaders=["zhangsan"]),
                   Department(corp_id=CORP_ID, dept_id=3, name="华东组", parent_id=2),
                   Staff(corp_id=CORP_ID, userid="zhaoliu", name="赵六", department=[1])])
        s.execute(update(Staff).where(Staff.userid == "zhangsan").values(department=[2]))
        s.execute(update(Staff).where(Staff.userid == "lisi").values(department=[3]))
        ids = {}
        for name, (owner, cents, moves) in deals.items():
            row = Opportunity(corp_id=CORP_ID, customer_id=world["王小明"], name=name, stage_id=st[moves[-1][1]],
                              amount_cents=cents, expected_close=dt.date(2024, 12, 31), owner_userid=owner,
                              created_by="test", created_at=moves[0][0],
                              lost_reason_id=world["reason"] if moves[-1][1] == "lost" else None)
            s.add(row)
            s.flush()
            ids[name] = row.id
            before = None
            for at, stage in moves:
                s.add(StageChange(opportunity_id=row.id, from_stage_id=before, to_stage_id=st[stage], userid=owner,
                                  actor="test", at=at))
                before = st[stage]
    return {**world, "deals": ids, "zhaoliu": make_token("member", userid="zhaoliu", name="zl")}


def funnel(client, headers, **params: Any) -> Any:  # type: ignore[no-untyped-def]
    return client.get("/api/v1/funnel", headers=headers, query_string={**WEEK, **params})


def by_name(body: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {s["name"]: (s["count"], s["amount_cents"], s["weighted_cents"], s["reached"], s["conversion"],
                        s["avg_days"]) for s in body["stages"]}


def test_the_funnel_of_a_week_for_the_whole_corp(client, sales) -> None:  # type: ignore[no-untyped-def]
    r = funnel(client, sales["admin"], all="true")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    # Created in the week (LA days): D1, D2, D3, D5 (D4 was created the evening before; D6 on 11-01).
    # Their stage at the week's end (D3's move to 演示 comes after it):
    #   初步接洽: D3 ¥3,000, weighted 10 % = 30,000 cents; 演示: D1 ¥1,000 → 40,000; 合同签约: none;
    #   won: D2 ¥2,000 → 200,000; lost: D5 ¥5,000 → 0.
    # reached / conversion (reached a later stage of 初步接洽 → 演示 → 合同签约 → won; lost is no progress):
    #   初步接洽: D1, D2, D3 = 3; D1 (演示) and D2 (won) went on: 2/3 = 0.6667
    #   演示: D1, D2, D5 = 3; only D2 went on: 1/3 = 0.3333
    #   合同签约: D2 = 1, went on to won: 1.0
    # days (entering to the next move, or to the week's end 11-18 00:00):
    #   初步接洽: D1 2.0, D2 0.5, D3 0.5 h = 0.020833 → 2.520833 / 3 = 0.84
    #   演示: D1 11-13 09:00 → 11-18 00:00 = 4.625, D2 1.5, D5 1.25 → 7.375 / 3 = 2.458 → 2.46
    #   合同签约: D2 1.0
    assert by_name(body) == {
        "初步接洽": (1, 300_000, 30_000, 3, 0.6667, 0.84),
        "演示": (1, 100_000, 40_000, 3, 0.3333, 2.46),
        "合同签约": (0, 0, 0, 1, 1.0, 1.0),
        "赢单": (1, 200_000, 200_000, 1, None, None),
        "输单": (1, 500_000, 0, 1, None, None)}
    assert (body["from"], body["to"], body["userids"]) == ("2024-11-11", "2024-11-17", None)
    assert (body["deals"], body["amount_cents"], body["weighted_cents"]) == (4, 1_100_000, 270_000)
    # Closed in the week, whenever created: D2 won; D4 and D5 lost (D6's win is on 11-30): 1 / 3.
    assert (body["won"], body["lost"], body["won_cents"], body["win_rate"]) == (1, 2, 200_000, 0.3333)
    hidden = funnel(client, sales["admin"], all="true", exclude=[sales["stages"]["演示"]]).get_json()
    assert list(by_name(hidden)) == ["初步接洽", "合同签约", "赢单", "输单"] and hidden["deals"] == 4


def test_a_member_sees_their_own_funnel_and_their_departments(client, sales) -> None:  # type: ignore[no-untyped-def]
    own = funnel(client, sales["zhangsan"]).get_json()  # default: the caller: D1 and D2; D2 won, nothing lost
    assert own["userids"] == ["zhangsan"]
    assert {k: v[:2] for k, v in by_name(own).items() if v[0]} == {"演示": (1, 100_000), "赢单": (1, 200_000)}
    assert (own["won"], own["lost"], own["win_rate"]) == (1, 0, 1.0)
    # zhangsan leads 销售部 (2) ⊃ 华东组 (3, lisi): D1, D2, D3; closed: D2 won, D4 lost
    team = funnel(client, sales["zhangsan"], department=2).get_json()
    assert (team["userids"], team["deals"], team["won"], team["lost"], team["win_rate"]) == (
        ["lisi", "zhangsan"], 3, 1, 1, 0.5)
    assert funnel(client, sales["zhangsan"], all="true").get_json()["userids"] == ["lisi", "zhangsan"]
    assert funnel(client, sales["zhangsan"], userid="lisi").status_code == 200
    for who, params, status in (("zhangsan", {"userid": "zhaoliu"}, 403), ("zhangsan", {"department": 1}, 403),
                                ("lisi", {"userid": "zhangsan"}, 403), ("lisi", {"department": 3}, 403),
                                ("lisi", {"department": 99}, 404), ("admin", {"department": 99}, 404),
                                ("admin", {"userid": "nobody"}, 404)):
        r = funnel(client, sales[who], **params)
        assert r.status_code == status, (who, params, r.get_json())
    assert funnel(client, sales["lisi"], all="true").get_json()["userids"] == ["lisi"]


def test_a_period_given_by_days_or_a_bad_one(client, sales) -> None:  # type: ignore[no-untyped-def]
    days = client.get("/api/v1/funnel", headers=sales["admin"],
                      query_string={"corp_id": CORP_ID, "from": "2024-11-11", "to": "2024-11-17", "all": "true"})
    assert days.get_json()["deals"] == 4
    for params in ({"period": "fortnight"}, {"from": "2024-11-11"}, {"from": "2024-11-17", "to": "2024-11-11"},
                   {"from": "2024-11-11", "to": "2024-11-17", "period": "week"}, {"date": "2024-11-31"},
                   {"userid": "lisi", "department": 2}, {"period": "year", "date": "9999-12-30"},
                   {"period": "month", "date": "9999-12-30"}, {"date": "1000-01-02"}):
        r = client.get("/api/v1/funnel", headers=sales["admin"], query_string={"corp_id": CORP_ID, **params})
        assert r.status_code == 400 and r.get_json()["error"]["fields"], (params, r.get_json())


def targets(client, headers, **params: Any) -> dict[str, tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/targets", headers=headers, query_string={"corp_id": CORP_ID, **params})
    assert r.status_code == 200, r.get_json()
    return {f"{t['userid'] or t['department']}/{t['start']}": (t["end"], t["amount_cents"], t["won_cents"],
                                                              t["completion"]) for t in r.get_json()["items"]}


def set_target(client, sales, **body: Any) -> Any:  # type: ignore[no-untyped-def]
    return client.post("/api/v1/targets", headers=sales["admin"], json={"corp_id": CORP_ID, **body})


def test_target_completion_is_the_won_amount_of_the_period(client, runtime, sales) -> None:  # type: ignore[no-untyped-def]
    for body in ({"userid": "zhangsan", "period": "month", "date": "2024-11-05", "amount_cents": 1_000_000},
                 {"userid": "zhangsan", "period": "month", "date": "2024-12-10", "amount_cents": 500_000},
                 {"department": 2, "period": "quarter", "date": "2024-10-01", "amount_cents": 4_000_000},
                 {"department": 1, "period": "year", "date": "2024-06-30", "amount_cents": 10_000_000},
                 {"userid": "lisi", "period": "month", "date": "2024-10-01", "amount_cents": 100}):
        assert set_target(client, sales, **body).status_code == 201
    # Won (LA days): D2 ¥2,000 on 11-15 and D6 ¥6,000 on 11-30 23:30 (in UTC already December), both zhangsan's.
    #   zhangsan November: 800,000 / 1,000,000 = 0.8;  zhangsan December: 0 (D6 stays in November)
    #   销售部 Q4 (zhangsan, lisi): 800,000 / 4,000,000 = 0.2;  总部 2024 (everyone): 800,000 / 10,000,000 = 0.08
    assert targets(client, sales["admin"]) == {
        "zhangsan/2024-12-01": ("2024-12-31", 500_000, 0, 0.0),
        "zhangsan/2024-11-01": ("2024-11-30", 1_000_000, 800_000, 0.8),
        "2/2024-10-01": ("2024-12-31", 4_000_000, 800_000, 0.2),
        "1/2024-01-01": ("2024-12-31", 10_000_000, 800_000, 0.08),
        "lisi/2024-10-01": ("2024-10-31", 100, 0, 0.0)}  # D4 was lost, not won
    # the targets whose period holds 11-20 (lisi's October month shares its first day with Q4: not listed)
    assert list(targets(client, sales["admin"], date="2024-11-20")) == [
        "zhangsan/2024-11-01", "2/2024-10-01", "1/2024-01-01"]
    # zhangsan reads his own, his department's (he leads 2, not 1) and lisi's (in 3, under 2); lisi her own
    assert list(targets(client, sales["zhangsan"])) == ["zhangsan/2024-12-01", "zhangsan/2024-11-01", "2/2024-10-01",
                                                        "lisi/2024-10-01"]
    assert list(targets(client, sales["lisi"])) == ["lisi/2024-10-01"]
    with runtime.Session() as s:
        year = s.scalar(select(SalesTarget.id).where(SalesTarget.dept_id == 1))
    assert client.get(f"/api/v1/targets/{year}", headers=sales["zhangsan"]).status_code == 404
    r = client.patch(f"/api/v1/targets/{year}", headers=sales["admin"], json={"amount_cents": 1_600_000})
    assert (r.status_code, r.get_json()["completion"]) == (200, 0.5)
    assert client.delete(f"/api/v1/targets/{year}", headers=sales["admin"]).status_code == 200
    assert "1/2024-01-01" not in targets(client, sales["admin"])


def test_bad_targets_change_nothing(client, runtime, sales) -> None:  # type: ignore[no-untyped-def]
    good = {"userid": "zhangsan", "period": "month", "date": "2024-11-05", "amount_cents": 100}
    assert set_target(client, sales, **good).status_code == 201
    for body, status, code in (({**good, "department": 2}, 422, "invalid"),
                               ({**good, "period": "week"}, 422, "invalid"),
                               ({**good, "amount_cents": -1}, 422, "invalid"),
                               ({**good, "userid": None, "department": 99}, 404, "not_found"),
                               ({**good, "userid": "nobody"}, 404, "not_found"),
                               ({**good, "date": "2024-11-30"}, 409, "conflict"),
                               ({**good, "period": "year", "date": "9999-06-30"}, 422, "invalid")):
        rejected(runtime, lambda body=body: set_target(client, sales, **body), status, code)
    rejected(runtime, lambda: client.post("/api/v1/targets", headers=sales["zhangsan"],
                                          json={"corp_id": CORP_ID, **good}), 403, "forbidden")


def test_follow_up_counts_per_member_for_a_month(client, runtime, sales) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        note = FollowUpType(corp_id=CORP_ID, name="笔记", position=0)
        call = FollowUpType(corp_id=CORP_ID, name="电话", position=1)
        s.add_all([note, call])
        s.flush()
        for userid, at, kind in (("zhangsan", la(2024, 11, 1, 0, 30), note),   # November's first LA half hour
                                 ("zhangsan", la(2024, 11, 30, 23), note),     # 12-01 07:00 UTC
                                 ("zhangsan", la(2024, 11, 15, 12), call),
                                 ("zhangsan", la(2024, 10, 31, 23), call),     # 11-01 06:00 UTC: October here
                                 ("lisi", la(2024, 11, 20, 12), note),
                                 ("lisi", la(2024, 12, 1, 0, 30), note)):      # December
            s.add(FollowUp(corp_id=CORP_ID, customer_id=sales["王小明"], userid=userid, text="t", at=at,
                           via="api", type_id=kind.id))
    r = client.get("/api/v1/follow-ups/stats", headers=sales["admin"],
                   query_string={"corp_id": CORP_ID, "month": "2024-11", "all": "true"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["from"], body["to"]) == ("2024-11-01", "2024-11-30")
    assert [(m["userid"], m["total"], [(t["type"], t["count"]) for t in m["by_type"]]) for m in body["items"]] == [
        ("zhangsan", 3, [("笔记", 2), ("电话", 1)]), ("lisi", 1, [("笔记", 1)]), ("zhaoliu", 0, [])]
    mine = client.get("/api/v1/follow-ups/stats", headers=sales["lisi"], query_string={"month": "2024-11"})
    assert [(m["userid"], m["total"]) for m in mine.get_json()["items"]] == [("lisi", 1)]
    for params, status in (({"month": "2024-11", "userid": "zhangsan"}, 403), ({"month": "2024-13"}, 400),
                           ({"month": "9999-12"}, 400), ({"month": "1000-01"}, 400),
                           ({"month": "2024-11", "from": "2024-11-01", "to": "2024-11-02"}, 400)):
        assert client.get("/api/v1/follow-ups/stats", headers=sales["lisi"],
                          query_string=params).status_code == status, params


def test_list_pages_cost_the_same_queries_whatever_their_size(client, runtime, sales) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        kind = FollowUpType(corp_id=CORP_ID, name="笔记", position=0)
        s.add(kind)
        s.flush()
        s.add_all([FollowUp(corp_id=CORP_ID, customer_id=sales["王小明"], userid="zhangsan", text=f"t{n}",
                            at=la(2024, 11, 1, 9), via="api", type_id=kind.id) for n in range(110)])
        s.add_all([Opportunity(corp_id=CORP_ID, customer_id=sales["王小明"], name=f"o{n}",
                               stage_id=sales["stages"]["lost"], amount_cents=n, expected_close=dt.date(2024, 12, 31),
                               owner_userid="zhangsan", created_by="t", lost_reason_id=sales["reason"])
                   for n in range(110)])
        s.add_all([SalesTarget(corp_id=CORP_ID, period="month", start=dt.date(2024, 1 + n % 12, 1), amount_cents=100,
                               created_by="t", **({"dept_id": 2} if n % 2 else {"userid": "zhangsan"}))
                   for n in range(110)])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    for path in ("/api/v1/follow-ups", "/api/v1/opportunities", "/api/v1/targets"):
        used = []
        for size in (10, 100):
            statements.clear()
            event.listen(runtime.engine, "before_cursor_execute", count)
            try:
                r = client.get(path, headers=sales["admin"], query_string={"corp_id": CORP_ID, "page_size": size})
            finally:
                event.remove(runtime.engine, "before_cursor_execute", count)
            assert r.status_code == 200 and len(r.get_json()["items"]) == min(size, r.get_json()["total"])
            used.append(len(statements))
        assert used[0] == used[1], (path, used)
