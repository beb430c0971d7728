"""The public pool's daily recycle scan (jobs/pool_scan.py) at its edges: the Nth local day in a non-UTC corp
(23:59 vs 00:00), the warning one day ahead and only once, a won deal never recycled, each rule's reason,
two scans at once moving each customer once, and no WeCom call but the warning's message/send."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from jobs.pool_scan import scan_corp, warn_pool
from models import Corp, Customer, FollowRelation, Opportunity, OpportunityStage, Staff
from models.pool import Pool, PoolMove, PoolScan
from rules.pool_days import local_day
from support import CORP_ID

LA = ZoneInfo("America/Los_Angeles")  # UTC-8 in March before the 8th, -7 after: the scan must follow the corp


def la(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LA)


@pytest.fixture
def corp(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A Los Angeles corp with zhangsan, and a pool with whatever rules a test gives `make`."""
    with runtime.WriteSession.begin() as s:
        s.execute(update(Corp).where(Corp.corp_id == CORP_ID).values(timezone="America/Los_Angeles"))
        s.add(Staff(corp_id=CORP_ID, userid="zhangsan", name="张三"))

    def make(**rules: Any) -> int:
        with runtime.WriteSession.begin() as s:
            pool = Pool(corp_id=CORP_ID, name="华东公海", auto_recycle=True, **rules)
            s.add(pool)
            s.flush()
            return pool.id

    def customer(pool_id: int, name: str, assigned: dt.datetime, followed: dt.datetime | None = None,
                 friend: bool = True) -> int:
        with runtime.WriteSession.begin() as s:
            c = Customer(corp_id=CORP_ID, external_userid=f"wm{name}", name=name, owner_userid="zhangsan",
                         pool_id=pool_id, assigned_at=assigned, last_followed_at=followed)
            s.add(c)
            s.flush()
            s.add(FollowRelation(customer_id=c.id, corp_id=CORP_ID, userid="zhangsan", added_at=assigned,
                                 status="active" if friend else "deleted_by_customer"))
            return c.id

    return {"make": make, "customer": customer}


def state(runtime, customer_id: int) -> tuple[str | None, str, str | None]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        c = s.get(Customer, customer_id)
        return c.owner_userid, c.pool_reason, c.pool_left_by


def test_the_nth_local_day_starts_at_the_corps_midnight(runtime, corp, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    pool = corp["make"](never_followed_days=3)
    late = corp["customer"](pool, "晚", la(2026, 3, 1, 23, 59))  # due on the 4th, local
    early = corp["customer"](pool, "早", la(2026, 3, 2, 0, 0))  # due on the 5th
    assert scan_corp(CORP_ID, now=la(2026, 3, 3, 23, 59))["moved"] == 0  # still the 3rd in LA (the 4th in UTC)
    assert scan_corp(CORP_ID, now=la(2026, 3, 4, 0, 0))["moved"] == 1
    assert state(runtime, late) == (None, "超过3天从未跟进", "zhangsan")
    assert state(runtime, early) == ("zhangsan", "", None)
    assert scan_corp(CORP_ID, now=la(2026, 3, 5, 0, 1))["moved"] == 1
    assert state(runtime, early)[0] is None
    with runtime.Session() as s:
        moves = s.execute(select(PoolMove.customer_id, PoolMove.action, PoolMove.userid, PoolMove.reason)
                          .order_by(PoolMove.id)).all()
        assert [tuple(m) for m in moves] == [(late, "recycled", "zhangsan", "超过3天从未跟进"),
                                             (early, "recycled", "zhangsan", "超过3天从未跟进")]
        # followed relations untouched: the WeCom friendship stays
        assert s.scalars(select(FollowRelation.status)).all() == ["active", "active"]
    assert [c for c in fake_wecom.calls() if c["path"] != "gettoken"] == []


def test_a_scan_runs_once_a_local_day(runtime, corp) -> None:  # type: ignore[no-untyped-def]
    pool = corp["make"](no_deal_days=1)
    assert scan_corp(CORP_ID, now=la(2026, 3, 4, 0, 5)) is not None
    corp["customer"](pool, "新", la(2026, 3, 1, 9))
    assert scan_corp(CORP_ID, now=la(2026, 3, 4, 23, 0)) is None  # the 4th was scanned
    assert scan_corp(CORP_ID, now=la(2026, 3, 5, 0, 5))["moved"] == 1


def test_the_warning_comes_the_day_before_and_once(runtime, corp, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    pool = corp["make"](no_deal_days=3, warn_days=1)
    customer = corp["customer"](pool, "王五", la(2026, 3, 1, 10))  # due on the 4th
    assert scan_corp(CORP_ID, now=la(2026, 3, 2, 8))["warned"] == 0
    assert fake_wecom.calls("message/send") == []
    assert scan_corp(CORP_ID, now=la(2026, 3, 3, 8))["warned"] == 1
    with runtime.Session() as s:
        zone_pool = s.get(Pool, pool)
        s.expunge(zone_pool)
    assert warn_pool(runtime, zone_pool, local_day(la(2026, 3, 3, 20), LA), LA) == 0  # again that day: nothing
    [sent] = fake_wecom.calls("message/send")
    assert sent["body"]["touser"] == "zhangsan"
    assert "王五" in sent["body"]["text"]["content"] and "03月04日" in sent["body"]["text"]["content"]
    assert scan_corp(CORP_ID, now=la(2026, 3, 4, 8)) == {"corp_id": CORP_ID, "day": "2026-03-04", "moved": 1,
                                                         "warned": 0}
    assert state(runtime, customer)[0] is None
    assert len(fake_wecom.calls("message/send")) == 1


def test_a_won_deal_is_never_recycled(runtime, corp) -> None:  # type: ignore[no-untyped-def]
    pool = corp["make"](never_followed_days=1, not_friend_days=1, no_deal_days=1, idle_days=1)
    won = corp["customer"](pool, "成交", la(2026, 1, 1), friend=False)
    lost = corp["customer"](pool, "未成交", la(2026, 1, 1), friend=False)
    with runtime.WriteSession.begin() as s:
        stages = {}
        for outcome in ("won", "lost"):
            stage = OpportunityStage(corp_id=CORP_ID, name=outcome, probability=0, position=9, outcome=outcome)
            s.add(stage)
            s.flush()
            stages[outcome] = stage.id
        for customer_id, outcome in ((won, "won"), (lost, "lost")):
            s.add(Opportunity(corp_id=CORP_ID, customer_id=customer_id, name="单", stage_id=stages[outcome],
                              amount_cents=1, expected_close=dt.date(2026, 1, 2), owner_userid="zhangsan",
                              created_by="t"))
    assert scan_corp(CORP_ID, now=la(2026, 6, 1, 1))["moved"] == 1
    assert state(runtime, won)[0] == "zhangsan"
    assert state(runtime, lost)[0] is None


def test_each_rule_names_its_reason(runtime, corp) -> None:  # type: ignore[no-untyped-def]
    pool = corp["make"](not_friend_days=5, idle_days=10)
    stranger = corp["customer"](pool, "陌生", la(2026, 3, 1, 9), followed=la(2026, 3, 20), friend=False)
    friend = corp["customer"](pool, "好友", la(2026, 3, 1, 9), followed=la(2026, 3, 20))
    idle = corp["customer"](pool, "冷落", la(2026, 3, 1, 9), followed=la(2026, 3, 2, 9))
    before = corp["customer"](pool, "前任跟进", la(2026, 3, 10, 9), followed=la(2026, 3, 2, 9))
    assert scan_corp(CORP_ID, now=la(2026, 3, 21, 1))["moved"] == 2
    assert state(runtime, stranger)[1] == "超过5天未加企微好友"
    assert state(runtime, idle)[1] == "距上次跟进超过10天未再跟进"
    assert state(runtime, friend)[0] == state(runtime, before)[0] == "zhangsan"  # a follow-up before the
    # assignment is the former follower's: the idle rule counts from the follower's own


def test_two_scans_at_once_move_each_customer_once(runtime, corp) -> None:  # type: ignore[no-untyped-def]
    pool = corp["make"](no_deal_days=2)
    ids = [corp["customer"](pool, f"客{i}", la(2026, 3, 1, 9)) for i in range(30)]
    results: list[Any] = []
    start = threading.Barrier(2)

    def scan() -> None:
        start.wait()
        results.append(scan_corp(CORP_ID, now=la(2026, 3, 10, 0, 30)))

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["moved"] for r in results if r) == [30] and results.count(None) == 1
    with runtime.Session() as s:
        assert sorted(s.scalars(select(PoolMove.customer_id))) == ids
        assert s.scalar(select(PoolScan.moved)) == 30


def test_a_stale_claim_is_taken_over_and_moves_nobody_twice(runtime, corp) -> None:  # type: ignore[no-untyped-def]
    pool = corp["make"](no_deal_days=2)
    corp["customer"](pool, "甲", la(2026, 3, 1, 9))
    with runtime.WriteSession.begin() as s:  # a worker claimed the 10th and died an hour and more ago
        s.add(PoolScan(corp_id=CORP_ID, day=dt.date(2026, 3, 10), started_at=la(2026, 3, 10, 0, 5)))
    assert scan_corp(CORP_ID, now=la(2026, 3, 10, 0, 30)) is None  # not stale yet
    assert scan_corp(CORP_ID, now=la(2026, 3, 10, 1, 30, 0, 654321))["moved"] == 1  # a fraction as utcnow()'s
    with runtime.Session() as s:
        assert s.scalar(select(PoolMove.reason)) == "超过2天未成交"  # its history found by the stamp
    with runtime.Session() as s:
        assert s.scalar(select(PoolScan.finished_at)) is not None
