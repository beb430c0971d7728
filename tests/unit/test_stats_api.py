"""The statistics API (web/api_stats.py) on tests/stats_support.py's corp, every figure worked out by hand in
that module's docstring: corp-local day edges, the change on the previous period (null when it had none), the
exact-day visit rule with and without skipping days off, and the member's own scope."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from models import AuditLog
from models.stats import VisitSettings
from stats_support import PERIOD, build
from support import CORP_ID

Q = {"corp_id": CORP_ID, **PERIOD}


@pytest.fixture
def world(runtime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return build(runtime)


def get(client, path: str, headers: dict[str, str], **params: Any) -> Any:  # type: ignore[no-untyped-def]
    answer = client.get(f"/api/v1/stats/{path}", headers=headers, query_string={**Q, **params})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_customer_analysis_counts_corp_local_days_and_the_change(client, world, make_token) -> None:  # type: ignore[no-untyped-def]
    body = get(client, "customers", make_token("admin"))
    assert (body["from"], body["to"], body["userids"]) == ("2026-03-01", "2026-03-07", None)
    assert {k: body[k] for k in ("new", "lost", "lost_by_staff", "lost_by_customer", "net")} == {
        "new": 3, "lost": 2, "lost_by_staff": 1, "lost_by_customer": 1, "net": 1}
    assert body["previous"] == {"from": "2026-02-22", "to": "2026-02-28", "new": 2, "lost": 0, "net": 2}
    assert (body["new_change"], body["lost_change"], body["net_change"]) == (0.5, None, -0.5)
    days = {d["day"]: (d["new"], d["lost"]) for d in body["days"] if d["new"] or d["lost"]}
    assert days == {"2026-03-01": (1, 0), "2026-03-03": (0, 1), "2026-03-05": (0, 1), "2026-03-06": (1, 0),
                    "2026-03-07": (1, 0)}
    assert len(body["days"]) == 7
    assert body["by_channel"] == [{"channel": "", "new": 1}, {"channel": "公众号", "new": 1},
                                  {"channel": "线下门店", "new": 1}]
    assert [(s["add_way"], s["name"], s["new"]) for s in body["by_source"]] == [
        (None, "未知来源", 1), (1, "扫描二维码", 1), (4, "群聊", 1)]
    assert [(t["name"], t["new"]) for t in body["by_tag"]] == [("VIP", 1)]


def test_one_day_period_takes_its_first_instant_and_not_the_next_midnight(client, world, make_token) -> None:  # type: ignore[no-untyped-def]
    first = get(client, "customers", make_token("admin"), **{"from": "2026-03-01", "to": "2026-03-01"})
    assert (first["new"], first["previous"]["new"]) == (1, 1)  # c1 at 00:00; c2 at 23:59:59 the day before
    after = get(client, "customers", make_token("admin"), **{"from": "2026-03-08", "to": "2026-03-08"})
    assert after["new"] == 1  # c4 at 03-08 00:00, not c3 at 03-07 23:59
    assert after["new_change"] == 0.0  # c3 the day before: (1 - 1) / 1


def test_a_member_sees_their_own_figures_and_no_one_elses(client, world, make_token) -> None:  # type: ignore[no-untyped-def]
    mine = make_token("member", userid="zhangsan")
    body = get(client, "customers", mine)
    assert (body["userids"], body["new"], body["lost"], body["net_change"]) == (["zhangsan"], 2, 1, -0.5)
    staff = get(client, "staff", mine)
    assert [i["userid"] for i in staff["items"]] == ["zhangsan"]
    refused = client.get("/api/v1/stats/customers", headers=mine, query_string={**Q, "userid": "lisi"})
    assert refused.status_code == 403
    assert get(client, "customers", make_token("admin"), userid="lisi")["new"] == 1


def test_staff_analysis(client, world, make_token) -> None:  # type: ignore[no-untyped-def]
    body = get(client, "staff", make_token("admin"))
    assert (body["visit_days"], body["skip_non_workdays"], body["total"]) == ([1, 3, 5, 7], False, 2)
    zhang, li = body["items"]
    assert {k: zhang[k] for k in ("userid", "name", "customers_added", "customers_lost", "chats",
                                  "messages_sent", "first_response_seconds", "follow_ups")} == {
        "userid": "zhangsan", "name": "张三", "customers_added": 2, "customers_lost": 1,
        "chats": 1, "messages_sent": 1, "first_response_seconds": 90.0, "follow_ups": 3}
    assert zhang["wecom"] == {"chat_cnt": 4, "message_cnt": 12, "new_apply_cnt": 2, "new_contact_cnt": 2,
                              "negative_feedback_cnt": 0, "avg_reply_minutes": 3.0, "reply_percentage": 75.0}
    assert {k: li[k] for k in ("userid", "customers_added", "customers_lost", "follow_ups")} == {
        "userid": "lisi", "customers_added": 1, "customers_lost": 1, "follow_ups": 1}
    assert (li["wecom"]["chat_cnt"], li["wecom"]["avg_reply_minutes"]) == (5, None)


def visits(body: dict[str, Any], userid: str) -> dict[int, tuple[int, int, float | None]]:
    row = next(i for i in body["items"] if i["userid"] == userid)
    return {v["day"]: (v["due"], v["done"], v["rate"]) for v in row["visits"]}


def test_visits_count_only_on_the_exact_day(client, world, make_token) -> None:  # type: ignore[no-untyped-def]
    body = get(client, "staff", make_token("admin"))
    # day 1: c1 visited 03-02 23:59, c7 on Saturday 03-07, c2 never; day 3: c1's note of 03-05 00:00 is day 4,
    # lisi's note on c1 is not zhangsan's visit; day 5: the customer-service reply to c1 on 03-06
    assert visits(body, "zhangsan") == {1: (3, 2, 0.6667), 3: (2, 0, 0.0), 5: (3, 1, 0.3333), 7: (2, 0, 0.0)}
    assert visits(body, "lisi") == {1: (0, 0, None), 3: (0, 0, None), 5: (0, 0, None), 7: (0, 0, None)}


def test_visits_skip_days_off_when_the_corp_says_so(client, world, make_token) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    put = client.put("/api/v1/stats/visit-settings", headers=admin,
                     json={"corp_id": CORP_ID, "extra_days": [2], "skip_non_workdays": True})
    assert put.status_code == 200, put.get_json()
    assert put.get_json() == {"corp_id": CORP_ID, "days": [1, 2, 3, 5, 7], "extra_days": [2],
                              "skip_non_workdays": True}
    body = get(client, "staff", admin)
    # Mon-Fri working: c7 (Friday) is due on Monday 03-09, past the period; c2 (Saturday) and c1 (Sunday) on
    # Monday 03-02, where only c1 was visited; day 2: c1 and c2 on Tuesday 03-03, c5 (Wednesday 02-25) Friday 02-27
    assert visits(body, "zhangsan") == {1: (2, 1, 0.5), 2: (2, 0, 0.0), 3: (3, 0, 0.0), 5: (3, 1, 0.3333),
                                        7: (1, 0, 0.0)}
    with client.application.extensions["scrm"].Session() as s:
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "visit_settings.update")) is not None


@pytest.mark.parametrize("extra", [[3], [2, 2], [2, 4, 6], [0], [91]])
def test_bad_visit_settings_change_nothing(client, world, make_token, extra) -> None:  # type: ignore[no-untyped-def]
    answer = client.put("/api/v1/stats/visit-settings", headers=make_token("admin"),
                        json={"corp_id": CORP_ID, "extra_days": extra, "skip_non_workdays": True})
    assert answer.status_code in (400, 422)
    with client.application.extensions["scrm"].Session() as s:
        assert s.scalar(select(VisitSettings)) is None
    assert client.put("/api/v1/stats/visit-settings", headers=make_token("member", userid="zhangsan"),
                      json={"extra_days": [], "skip_non_workdays": True}).status_code == 403


def test_group_analysis(client, world, make_token) -> None:  # type: ignore[no-untyped-def]
    body = get(client, "groups", make_token("admin"))
    zhang, li = body["items"]
    assert {k: zhang[k] for k in ("owner", "name", "groups", "new_groups", "joined", "quit")} == {
        "owner": "zhangsan", "name": "张三", "groups": 1, "new_groups": 1, "joined": 1, "quit": 1}
    assert zhang["wecom"] == {"new_chat_cnt": 1, "new_member_cnt": 5, "msg_total": 20, "chat_has_msg": 0,
                              "member_has_msg": 0, "chat_total": 5, "member_total": 31}
    assert (li["owner"], li["groups"], li["wecom"]["chat_total"], li["wecom"]["msg_total"]) == ("lisi", 0, 1, 1)
    assert body["days"] == [{"day": "2026-03-01", "new_chat_cnt": 1, "new_member_cnt": 3, "msg_total": 12},
                            {"day": "2026-03-02", "new_chat_cnt": 0, "new_member_cnt": 2, "msg_total": 9}]
    mine = get(client, "groups", make_token("member", userid="lisi"))
    assert [i["owner"] for i in mine["items"]] == ["lisi"]


def test_bad_periods_are_refused(client, world, make_token) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    for params in ({"from": "2026-03-07", "to": "2026-03-01"}, {"from": "2026-03-01", "to": None},
                   {"from": "2026-13-01", "to": "2026-03-02"}):
        answer = client.get("/api/v1/stats/customers", headers=admin,
                            query_string={k: v for k, v in {**Q, **params}.items() if v is not None})
        assert answer.status_code == 400, params
    default = get(client, "customers", admin, **{"from": None, "to": None})
    assert len(default["days"]) == 30
