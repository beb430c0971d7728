"""Plans (跟进计划) over the admin API: required fields, a member's scope by id and by filter, a department
leader's subordinates, the day/week/month calendar in the corp's own time zone, the audit, and the
reminder rule (an edit moves it, done and delete cancel it, the scan sends it once) seen on the fake WeCom.
Rows come from customer_world: zhangsan follows 王小明, lisi alone follows 赵六; the corp keeps Los Angeles
time here (UTC-8 in late November, UTC-7 until 1 November 02:00)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot_support import Bot
from customer_world import build, rejected
from jobs.bot import remind_due_plans
from models import AuditLog, Corp, Plan, Staff
from models.directory import Department
from models.plans import claim_reminder, due_reminders
from support import CORP_ID

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def world(runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """wangwu leads 销售部 (1); zhangsan is in 一组 (2, under 1); lisi is in 财务部 (3)."""
    ids = build(runtime)
    with runtime.WriteSession.begin() as s:
        s.execute(update(Corp).where(Corp.corp_id == CORP_ID).values(timezone="America/Los_Angeles"))
        s.add_all([Department(corp_id=CORP_ID, dept_id=1, name="销售部", parent_id=None, leaders=["wangwu"]),
                   Department(corp_id=CORP_ID, dept_id=2, name="一组", parent_id=1, leaders=[]),
                   Department(corp_id=CORP_ID, dept_id=3, name="财务部", parent_id=None, leaders=["lisi"]),
                   Staff(corp_id=CORP_ID, userid="wangwu", name="王五", department=[1])])
        for userid, dept in (("zhangsan", 2), ("lisi", 3)):
            s.execute(update(Staff).where(Staff.corp_id == CORP_ID, Staff.userid == userid).values(department=[dept]))
    return {**ids, "zhangsan": make_token("member", userid="zhangsan", name="zs"),
            "lisi": make_token("member", userid="lisi", name="ls"),
            "wangwu": make_token("member", userid="wangwu", name="ww"),
            "admin": make_token("admin", name="adm"), "super": make_token("super_admin", name="su")}


def post(client, headers: dict[str, str], **body: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/plans", headers=headers, json=body)


def plan(client, headers: dict[str, str], **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = post(client, headers, **{"text": "回访", "starts_at": "2026-11-25T18:00:00Z", **body})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def listed(client, headers: dict[str, str], query: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/plans?page_size=200&{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    return [p["text"] for p in r.get_json()["items"]]


def sends(fake_wecom) -> list[str]:  # type: ignore[no-untyped-def]
    return [c["body"]["text"]["content"] for c in fake_wecom.calls("message/send")]


# -- fields -------------------------------------------------------------------------------------------------
def test_a_plan_is_stored_shown_and_audited(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    body = plan(client, world["zhangsan"], text="  带样品拜访  ", customer_id=world["王小明"],
                starts_at="2026-11-25T18:00:00Z", ends_at="2026-11-25T19:30:00Z", remind_at="2026-11-25T17:30:00Z")
    assert {k: body[k] for k in ("userid", "customer_id", "text", "all_day", "day", "status", "reminded_at")} == {
        "userid": "zhangsan", "customer_id": world["王小明"], "text": "带样品拜访", "all_day": False, "day": None,
        "status": "open", "reminded_at": None}
    assert (body["starts_at"], body["ends_at"], body["remind_at"]) == (
        "2026-11-25T18:00:00+00:00", "2026-11-25T19:30:00+00:00", "2026-11-25T17:30:00+00:00")
    assert client.get(f"/api/v1/plans/{body['id']}", headers=world["zhangsan"]).get_json() == body
    with runtime.Session() as s:
        row = s.get(Plan, body["id"])
        assert (row.due_at, row.created_by) == (utc(2026, 11, 25, 17, 30), "token:zs")
        assert s.scalars(select(AuditLog.action).where(AuditLog.target == f"plan:{row.id}")).all() == ["plan.create"]


def test_an_all_day_plan_is_the_corps_local_day(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    body = plan(client, world["zhangsan"], starts_at=None, day="2026-11-23")
    assert (body["all_day"], body["day"]) == (True, "2026-11-23")
    assert (body["starts_at"], body["ends_at"]) == ("2026-11-23T08:00:00+00:00", "2026-11-24T08:00:00+00:00")


@pytest.mark.parametrize("body, field", [
    ({"starts_at": "2026-11-25T18:00:00Z"}, "text"),
    ({"text": "   ", "starts_at": "2026-11-25T18:00:00Z"}, "text"),
    ({"text": "字" * 501, "starts_at": "2026-11-25T18:00:00Z"}, "text"),
    ({"text": "x"}, "starts_at"),
    ({"text": "x", "starts_at": "2026-11-25T18:00:00Z", "ends_at": "2026-11-25T17:00:00Z"}, "ends_at"),
    ({"text": "x", "starts_at": "2026-11-25T18:00:00Z", "day": "2026-11-25"}, "day"),
    ({"text": "x", "day": "2026-11-25", "ends_at": "2026-11-25T17:00:00Z"}, "day"),
    ({"text": "x", "day": "25/11/2026"}, "day"),
    ({"text": "x", "starts_at": "2026-11-25T18:00:00Z", "remind_at": "soon"}, "remind_at"),
])
def test_required_and_bounded_fields_are_a_422_naming_the_field(client, runtime, world, body, field) -> None:  # type: ignore[no-untyped-def]
    error = rejected(runtime, lambda: post(client, world["zhangsan"], **body), 422, "invalid")
    assert list(error["fields"]) == [field]


def test_an_edit_changes_what_it_names_and_refuses_nulls_it_cannot_take(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    pid = plan(client, world["zhangsan"], customer_id=world["王小明"], ends_at="2026-11-25T19:00:00Z")["id"]
    url = f"/api/v1/plans/{pid}"
    error = rejected(runtime, lambda: client.patch(url, headers=world["zhangsan"], json={"text": None}), 422,
                     "invalid")
    assert list(error["fields"]) == ["text"]
    rejected(runtime, lambda: client.patch(url, headers=world["zhangsan"], json={"ends_at": "2026-11-25T17:00:00Z"}),
             422, "invalid")
    r = client.patch(url, headers=world["zhangsan"], json={"starts_at": "2026-11-26T18:00:00Z", "customer_id": None})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()  # moved with its length kept, no longer about 王小明
    assert (body["starts_at"], body["ends_at"], body["customer_id"]) == (
        "2026-11-26T18:00:00+00:00", "2026-11-26T19:00:00+00:00", None)
    body = client.patch(url, headers=world["zhangsan"], json={"day": "2026-11-27"}).get_json()
    assert (body["all_day"], body["day"], body["ends_at"]) == (True, "2026-11-27", "2026-11-28T08:00:00+00:00")
    with runtime.Session() as s:
        assert [a.detail["fields"] for a in s.scalars(select(AuditLog).where(AuditLog.action == "plan.update")
                                                      .order_by(AuditLog.id))] == [
            ["customer_id", "when"], ["when"]]


# -- who sees and writes whose plans ------------------------------------------------------------------------
def test_a_plan_may_be_about_a_company_or_a_contact_the_caller_may_see(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    """000 §7.2: 关联客户/联系人/企业. Each link is optional, checked against the caller's scope (404 outside
    it, nothing written), filterable, and cleared by a null."""
    zs, ls = world["zhangsan"], world["lisi"]
    company = client.post("/api/v1/companies", headers=zs, json={"corp_id": CORP_ID, "name": "张三的企业"}).get_json()
    contact = client.post("/api/v1/contacts", headers=zs, json={"corp_id": CORP_ID, "name": "张三的联系人",
                                                               "company_id": company["id"]}).get_json()
    theirs = client.post("/api/v1/companies", headers=ls, json={"corp_id": CORP_ID, "name": "李四的企业"}).get_json()
    body = plan(client, zs, text="拜访企业", company_id=company["id"], contact_id=contact["id"])
    assert (body["company_id"], body["contact_id"], body["customer_id"]) == (company["id"], contact["id"], None)
    assert listed(client, zs, f"company_id={company['id']}") == ["拜访企业"]
    assert listed(client, zs, f"contact_id={contact['id']}") == ["拜访企业"]
    with runtime.Session() as s:
        before = s.scalar(select(func.count()).select_from(Plan))
    rejected(runtime, lambda: post(client, zs, text="x", starts_at="2026-11-25T18:00:00Z", company_id=theirs["id"]),
             404, "not_found")
    assert client.get(f"/api/v1/plans?company_id={theirs['id']}", headers=zs).status_code == 404
    r = client.patch(f"/api/v1/plans/{body['id']}", headers=zs, json={"company_id": theirs["id"]})
    assert r.status_code == 404
    r = client.patch(f"/api/v1/plans/{body['id']}", headers=zs, json={"company_id": None})
    assert r.status_code == 200 and (r.get_json()["company_id"], r.get_json()["contact_id"]) == (None, contact["id"])
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == before


def test_a_member_neither_reads_nor_writes_another_members_plans(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    theirs = plan(client, world["lisi"], text="李四的计划", customer_id=world["赵六"])["id"]
    mine = plan(client, world["zhangsan"], text="张三的计划")["id"]
    zs = world["zhangsan"]
    # by id: absent, for reading and for every write
    for send in (lambda: client.get(f"/api/v1/plans/{theirs}", headers=zs),
                 lambda: client.patch(f"/api/v1/plans/{theirs}", headers=zs, json={"text": "改"}),
                 lambda: client.post(f"/api/v1/plans/{theirs}/done", headers=zs)):
        rejected(runtime, send, 404, "not_found")
    # by filter: another member is a 403, another's customer a 404
    rejected(runtime, lambda: client.get("/api/v1/plans?userid=lisi", headers=zs), 403, "forbidden")
    rejected(runtime, lambda: client.get(f"/api/v1/plans?customer_id={world['赵六']}", headers=zs), 404, "not_found")
    assert listed(client, zs) == ["张三的计划"]
    assert listed(client, zs, "userid=zhangsan") == ["张三的计划"]
    # writing for another member, or about their customer
    rejected(runtime, lambda: post(client, zs, text="x", starts_at="2026-11-25T18:00:00Z", userid="lisi"), 403,
             "forbidden")
    rejected(runtime, lambda: post(client, zs, text="x", starts_at="2026-11-25T18:00:00Z",
                                   customer_id=world["赵六"]), 404, "not_found")
    rejected(runtime, lambda: client.patch(f"/api/v1/plans/{mine}", headers=zs, json={"userid": "lisi"}), 403,
             "forbidden")
    # an admin sees both, and names whose plan it writes
    assert sorted(listed(client, world["admin"])) == ["张三的计划", "李四的计划"]
    assert client.get(f"/api/v1/plans/{theirs}", headers=world["admin"]).status_code == 200
    error = rejected(runtime, lambda: post(client, world["admin"], text="x", starts_at="2026-11-25T18:00:00Z",
                                           corp_id=CORP_ID), 422, "invalid")
    assert list(error["fields"]) == ["userid"]
    assert plan(client, world["admin"], corp_id=CORP_ID, userid="lisi")["created_by"] == "token:adm"


def test_a_department_leader_plans_for_the_members_below_and_no_one_else(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    ww = world["wangwu"]
    assigned = plan(client, ww, text="给张三的任务", userid="zhangsan")
    assert assigned["userid"] == "zhangsan"
    own = plan(client, world["zhangsan"], text="张三自己的")["id"]
    plan(client, world["lisi"], text="李四的计划")
    # zhangsan is in 一组, below 销售部 that wangwu leads: wangwu sees and edits zhangsan's plans
    assert listed(client, ww) == ["给张三的任务", "张三自己的"]
    assert listed(client, ww, "userid=zhangsan") == ["给张三的任务", "张三自己的"]
    assert client.patch(f"/api/v1/plans/{own}", headers=ww, json={"text": "经理改过"}).status_code == 200
    assert client.post(f"/api/v1/plans/{own}/done", headers=ww).get_json()["status"] == "done"
    # lisi is in 财务部: not wangwu's, and wangwu is not below lisi nor zhangsan
    rejected(runtime, lambda: post(client, ww, text="x", starts_at="2026-11-25T18:00:00Z", userid="lisi"), 403,
             "forbidden")
    rejected(runtime, lambda: client.get("/api/v1/plans?userid=lisi", headers=ww), 403, "forbidden")
    rejected(runtime, lambda: post(client, world["zhangsan"], text="x", starts_at="2026-11-25T18:00:00Z",
                                   userid="wangwu"), 403, "forbidden")
    assert listed(client, world["lisi"]) == ["李四的计划"]  # lisi leads 财务部, where no one else is
    assert listed(client, world["zhangsan"]) == ["给张三的任务", "经理改过"]


# -- the calendar -------------------------------------------------------------------------------------------
CALENDAR = {  # text → start (UTC); Los Angeles is UTC-8 after 1 November 02:00, UTC-7 before
    "10月31日23:59": ("2026-11-01T06:59:00Z", None),
    "11月1日0:00": ("2026-11-01T07:00:00Z", None),
    "周日22日23:59": ("2026-11-23T07:59:00Z", None),
    "周日到周一": ("2026-11-22T20:00:00Z", "2026-11-23T09:00:00Z"),
    "周一23日0:00": ("2026-11-23T08:00:00Z", None),
    "周日29日23:59": ("2026-11-30T07:59:00Z", None),
    "周一30日0:00": ("2026-11-30T08:00:00Z", None),
    "12月1日0:00": ("2026-12-01T08:00:00Z", None),
}


def test_day_week_and_month_are_the_corps_calendar(client, world) -> None:  # type: ignore[no-untyped-def]
    zs = world["zhangsan"]
    for text, (start, end) in CALENDAR.items():
        plan(client, zs, text=text, starts_at=start, ends_at=end)
    plan(client, zs, text="23日全天", starts_at=None, day="2026-11-23")
    assert listed(client, zs, "view=day&date=2026-11-23") == ["周日到周一", "周一23日0:00", "23日全天"]
    assert listed(client, zs, "date=2026-11-22") == ["周日到周一", "周日22日23:59"]
    assert listed(client, zs, "view=day&date=2026-11-24") == []  # the all-day plan ends at its midnight
    assert listed(client, zs, "view=week&date=2026-11-25") == ["周日到周一", "周一23日0:00", "23日全天",
                                                                "周日29日23:59"]
    assert listed(client, zs, "view=week&date=2026-11-29") == listed(client, zs, "view=week&date=2026-11-23")
    assert listed(client, zs, "view=month&date=2026-11-15") == [
        "11月1日0:00", "周日到周一", "周日22日23:59", "周一23日0:00", "23日全天", "周日29日23:59", "周一30日0:00"]
    r = client.get("/api/v1/plans?view=year", headers=zs)
    assert r.status_code == 400 and list(r.get_json()["error"]["fields"]) == ["view"]


def test_status_filters_open_and_done(client, world) -> None:  # type: ignore[no-untyped-def]
    zs = world["zhangsan"]
    first = plan(client, zs, text="做完的")["id"]
    plan(client, zs, text="没做的")
    done = client.post(f"/api/v1/plans/{first}/done", headers=zs).get_json()
    assert done["status"] == "done" and done["done_at"]
    assert client.post(f"/api/v1/plans/{first}/done", headers=zs).get_json()["done_at"] == done["done_at"]
    assert listed(client, zs, "status=done") == ["做完的"]
    assert listed(client, zs, "status=open") == ["没做的"]


# -- reminders ----------------------------------------------------------------------------------------------
def test_an_edit_moves_the_reminder_and_a_sent_one_moved_ahead_is_sent_again(client, runtime, world,
                                                                             fake_wecom) -> None:  # type: ignore[no-untyped-def]
    pid = plan(client, world["zhangsan"], text="打电话", remind_at="2026-11-25T17:00:00Z")["id"]
    url = f"/api/v1/plans/{pid}"
    assert client.patch(url, headers=world["zhangsan"], json={"remind_at": "2026-11-25T17:30:00Z"}).status_code == 200
    assert remind_due_plans(now=utc(2026, 11, 25, 17, 10)) == 0  # the old time: nothing
    assert sends(fake_wecom) == []
    assert remind_due_plans(now=utc(2026, 11, 25, 17, 30)) == 1
    assert remind_due_plans(now=utc(2026, 11, 25, 17, 31)) == 0
    assert sends(fake_wecom) == ["计划提醒（11月25日 10:00）：打电话"]
    with runtime.Session() as s:
        assert s.get(Plan, pid).reminded_at == utc(2026, 11, 25, 17, 30)
    # sent, then moved to a time already past: not again; moved ahead of now: once more, then
    with runtime.WriteSession.begin() as s:  # the API reads "now" from the clock: the plan's times are ahead of it
        s.execute(update(Plan).where(Plan.id == pid).values(due_at=utc(2020, 1, 1)))
    assert remind_due_plans(now=utc(2099, 1, 1)) == 0
    ahead = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    body = client.patch(url, headers=world["zhangsan"], json={"remind_at": ahead.isoformat()}).get_json()
    assert (body["remind_at"], body["reminded_at"]) == (ahead.isoformat(), None)
    assert remind_due_plans(now=ahead) == 1
    assert len(sends(fake_wecom)) == 2


def test_done_and_delete_cancel_a_pending_reminder(client, runtime, world, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    done = plan(client, world["zhangsan"], text="做完了", remind_at="2026-11-25T17:00:00Z")["id"]
    gone = plan(client, world["zhangsan"], text="删掉了", remind_at="2026-11-25T17:00:00Z")["id"]
    kept = plan(client, world["zhangsan"], text="还要提醒", remind_at="2026-11-25T17:00:00Z")["id"]
    client.post(f"/api/v1/plans/{done}/done", headers=world["zhangsan"])
    # delete is super_admin's (000 §7.5): the member and an admin are refused, nothing changes
    for who in ("zhangsan", "admin"):
        rejected(runtime, lambda who=who: client.delete(f"/api/v1/plans/{gone}", headers=world[who]), 403, "forbidden")
    assert client.delete(f"/api/v1/plans/{gone}", headers=world["super"]).get_json() == {"id": gone, "deleted": True}
    assert remind_due_plans(now=utc(2026, 11, 26)) == 1
    assert sends(fake_wecom) == ["计划提醒（11月25日 10:00）：还要提醒"]
    assert client.get(f"/api/v1/plans/{gone}", headers=world["super"]).status_code == 404
    assert listed(client, world["zhangsan"]) == ["做完了", "还要提醒"]
    with runtime.Session() as s:
        assert s.get(Plan, gone).deleted_at is not None  # soft: kept for the audit trail
        assert s.get(Plan, kept).reminded_at is not None
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "plan.delete")) == "token:su"


def test_a_scan_that_read_the_old_time_before_an_edit_claims_nothing(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    pid = plan(client, world["zhangsan"], remind_at="2026-11-25T17:00:00Z")["id"]
    with runtime.Session() as s:
        [(found, old)] = due_reminders(s, utc(2026, 11, 25, 17), 10)
    assert found == pid
    client.patch(f"/api/v1/plans/{pid}", headers=world["zhangsan"], json={"remind_at": "2026-11-25T17:05:00Z"})
    with runtime.WriteSession.begin() as s:
        assert claim_reminder(s, pid, old, utc(2026, 11, 25, 17)) is False
        assert claim_reminder(s, pid, utc(2026, 11, 25, 17, 5), utc(2026, 11, 25, 17, 5)) is True
        assert claim_reminder(s, pid, utc(2026, 11, 25, 17, 5), utc(2026, 11, 25, 17, 6)) is False


def test_the_bots_plan_is_an_api_plan(client, runtime, world, sender, crypto, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    bot = Bot(sender, crypto)
    assert bot.ask("/计划 2099-12-01 续约").startswith("好的，")
    [body] = client.get("/api/v1/plans", headers=world["zhangsan"]).get_json()["items"]
    assert (body["text"], body["remind_at"], body["starts_at"], body["created_by"]) == (
        "续约", "2099-12-01T17:00:00+00:00", "2099-12-01T17:00:00+00:00", "bot:zhangsan")
