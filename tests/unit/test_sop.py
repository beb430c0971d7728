"""SOP plans over the admin API and their clock: validation edges (6 messages, 301 characters: 422 and nothing
stored), enrolment on a customer added through a chosen channel code (a real callback) and on a tag added,
a step fired once at its corp-local time with the task and app message seen on the fake WeCom, a customer
who left stops their SOP, a hand-over moves it, working hours move a step, date plans (a birthday) enrol
once a day, steps locked while on, delete only when off. Rows: customer_world (zhangsan follows 王小明 through
门店码 store-1; lisi follows 赵六)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from customer_world import build, rejected
from handlers.sop import enrol_tagged
from handlers.transfers import hand_over
from jobs.sop import fire_due, scan_dates
from models import (ChannelCode, Corp, Customer, CustomerFieldValue, CustomField, FollowRelation, SopEnrolment, SopRun,
                    Task, TaskAssignment, WorkCalendar)
from support import CORP_ID

ADD = "change_external_contact/add_external_contact"
LOST = "change_external_contact/del_follow_user"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TEXT = {"type": "text", "text": "您好，这是新客礼包"}


@pytest.fixture
def world(runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    with runtime.Session() as s:
        ids["store"] = s.scalar(select(ChannelCode.id).where(ChannelCode.state == "store-1"))
    return {**ids, "admin": make_token("admin", name="adm"), "member": make_token("member", userid="zhangsan")}


def step(**kw: Any) -> dict[str, Any]:
    return {"name": "新客欢迎", "day": 0, "at": "09:00", "messages": [TEXT], **kw}


def create(client, headers, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/sop-plans", headers=headers,
                    json={"corp_id": CORP_ID, "name": "新客SOP", "trigger": "customer_added", "steps": [step()],
                          **body})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def sent(fake_wecom) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(c["body"]["touser"], c["body"]["text"]["content"]) for c in fake_wecom.calls("message/send")]


def runs(runtime) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return [(c, st) for c, st in s.execute(select(Customer.name, SopRun.status)
                                               .join(SopEnrolment, SopEnrolment.id == SopRun.enrolment_id)
                                               .join(Customer, Customer.id == SopEnrolment.customer_id)
                                               .order_by(Customer.name))]


# -- validation ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, field", [
    ({"steps": [step(messages=[TEXT] * 6)]}, "steps[0].messages"),
    ({"steps": [step(messages=[{"type": "text", "text": "字" * 301}])]}, "steps[0].messages[0].text"),
    ({"steps": [step(hours_after=2)]}, "steps"),
    ({"steps": [step(at="9:00")]}, "steps[0].at"),
    ({"steps": [step(messages=[{"type": "link", "title": "无网址"}])]}, "steps[0].messages"),
    ({"steps": []}, "steps"),
    ({"name": "名" * 41}, "name"),
    ({"trigger": "tag_added"}, "body"),
    ({"tag_ids": ["nosuchtag"]}, "tag_ids"),
    ({"channel_code_ids": [987654]}, "channel_code_ids"),
    ({"trigger": "date", "date_field": "nosuchfield"}, "date_field"),
])
def test_a_bad_plan_is_a_422_naming_the_field_and_nothing_is_stored(client, runtime, world, body, field) -> None:  # type: ignore[no-untyped-def]
    payload = {"corp_id": CORP_ID, "name": "新客SOP", "trigger": "customer_added", "steps": [step()], **body}
    error = rejected(runtime, lambda: client.post("/api/v1/sop-plans", headers=world["admin"], json=payload),
                     422, "invalid")
    assert field in error["fields"] or (field == "body" and error["fields"]), error


def test_only_admins_manage_plans(client, world) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/sop-plans", headers=world["member"]).status_code == 403


# -- locked while on, delete only when off ------------------------------------------------------------------
def test_steps_are_locked_while_on_and_a_plan_is_deleted_only_when_off(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    plan = create(client, world["admin"])
    assert plan["enabled"] is True and plan["steps"][0]["locked"] is True and plan["steps"][0]["at"] == "09:00"
    url = f"/api/v1/sop-plans/{plan['id']}"
    step_url = f"{url}/steps/{plan['steps'][0]['id']}"
    rejected(runtime, lambda: client.put(step_url, headers=world["admin"], json=step(name="改")), 409, "conflict")
    rejected(runtime, lambda: client.delete(step_url, headers=world["admin"]), 409, "conflict")
    rejected(runtime, lambda: client.delete(url, headers=world["admin"]), 409, "conflict")
    added = client.post(f"{url}/steps", headers=world["admin"], json=step(name="第二天", day=1))
    assert added.status_code == 201 and added.get_json()["name"] == "第二天"
    assert client.patch(url, headers=world["admin"], json={"enabled": False}).get_json()["enabled"] is False
    edited = client.put(step_url, headers=world["admin"], json=step(name="改了", hours_after=3, day=None, at=None))
    assert edited.status_code == 200 and (edited.get_json()["name"], edited.get_json()["hours_after"]) == ("改了", 3)
    assert client.delete(url, headers=world["admin"]).get_json() == {"id": plan["id"], "deleted": True}
    assert client.get(url, headers=world["admin"]).status_code == 404


# -- enrol and fire -----------------------------------------------------------------------------------------
def test_a_customer_added_through_the_chosen_code_gets_the_step_once_at_nine(  # type: ignore[no-untyped-def]
        client, runtime, world, sender, fake_wecom) -> None:
    plan = create(client, world["admin"], channel_code_ids=[world["store"]])
    added = dt.datetime(2026, 11, 30, 7, 30, tzinfo=SHANGHAI)  # a Monday, 07:30 in Shanghai
    for who, state in (("wmViaStore", "store-1"), ("wmViaMp", "mp-1")):
        assert sender.post(ADD, ExternalUserID=who, UserID="zhangsan", State=state,
                           CreateTime=str(int(added.timestamp()))).status_code == 200
    with runtime.Session() as s:
        enrolled = s.execute(select(Customer.external_userid, SopRun.due_at).join(
            SopEnrolment, SopEnrolment.customer_id == Customer.id).join(
            SopRun, SopRun.enrolment_id == SopEnrolment.id)).all()
    nine = dt.datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI)
    assert enrolled == [("wmViaStore", nine)]  # the mp-1 code is not the plan's
    fake_wecom.clear_calls()
    assert fire_due(nine - dt.timedelta(seconds=1)) == 0
    assert fire_due(nine) == 1 and fire_due(nine + dt.timedelta(minutes=1)) == 0
    assert [(to, text.startswith("新任务「新客欢迎」")) for to, text in sent(fake_wecom)] == [("zhangsan", True)]
    with runtime.Session() as s:
        task = s.scalar(select(Task))
        assert (task.kind, task.customer_id is not None, "您好，这是新客礼包" in task.content) == ("sop", True, True)
        assert s.scalar(select(TaskAssignment.userid)) == "zhangsan"
    progress = client.get(f"/api/v1/sop-plans/{plan['id']}/progress", headers=world["admin"]).get_json()
    assert [(p["userid"], [r["status"] for r in p["runs"]]) for p in progress["items"]] == [("zhangsan", ["done"])]


def test_a_customer_who_left_gets_nothing_more(client, runtime, world, sender, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    create(client, world["admin"], steps=[step(hours_after=48, day=None, at=None)])
    for who in ("wmStays", "wmLeaves"):
        assert sender.post(ADD, ExternalUserID=who, UserID="zhangsan").status_code == 200
    assert sender.post(LOST, ExternalUserID="wmLeaves", UserID="zhangsan").status_code == 200
    with runtime.Session() as s:
        stopped = dict(s.execute(select(Customer.external_userid, SopEnrolment.stop_reason).join(
            SopEnrolment, SopEnrolment.customer_id == Customer.id)).all())
    assert stopped == {"wmStays": "", "wmLeaves": "deleted_by_customer"}
    fake_wecom.clear_calls()
    assert fire_due(dt.datetime.now(dt.UTC) + dt.timedelta(days=3)) == 1
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 1
        statuses = dict(s.execute(select(Customer.external_userid, SopRun.status).join(
            SopEnrolment, SopEnrolment.customer_id == Customer.id).join(
            SopRun, SopRun.enrolment_id == SopEnrolment.id)).all())
    assert statuses == {"wmStays": "done", "wmLeaves": "skipped"}


def test_a_run_whose_follower_no_longer_follows_is_skipped_even_without_the_stop_hook(  # type: ignore[no-untyped-def]
        client, runtime, world, sender) -> None:
    create(client, world["admin"])
    assert sender.post(ADD, ExternalUserID="wmQuiet", UserID="zhangsan").status_code == 200
    with runtime.WriteSession.begin() as s:
        s.execute(update(FollowRelation).values(status="deleted_by_staff"))
    assert fire_due(dt.datetime.now(dt.UTC) + dt.timedelta(days=400)) == 1  # claimed, then skipped
    assert runs(runtime) == [("", "skipped")]  # the fake knows no wmQuiet: the customer has no name


def test_a_hand_over_moves_the_sop_to_the_taker(client, runtime, world, sender, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    create(client, world["admin"], steps=[step(hours_after=1, day=None, at=None)])
    assert sender.post(ADD, ExternalUserID="wmMoved", UserID="zhangsan").status_code == 200
    with runtime.WriteSession.begin() as s:
        hand_over(s, CORP_ID, "wmMoved", "zhangsan", "lisi", dt.datetime.now(dt.UTC))
    fake_wecom.clear_calls()
    assert fire_due(dt.datetime.now(dt.UTC) + dt.timedelta(days=800)) == 1
    assert [to for to, _ in sent(fake_wecom)] == ["lisi"]


def test_a_tag_added_enrols_the_tag_plan_once(client, runtime, world, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    plan = create(client, world["admin"], trigger="tag_added", tag_ids=["tagvip"],
                  steps=[step(hours_after=0, day=None, at=None)])
    with runtime.WriteSession.begin() as s:
        follow = s.scalar(select(FollowRelation).where(FollowRelation.customer_id == world["赵六"]))
        enrol_tagged(s, follow, ["tagfair"])  # another tag
        enrol_tagged(s, follow, ["tagvip"])
        enrol_tagged(s, follow, ["tagvip"])
    progress = client.get(f"/api/v1/sop-plans/{plan['id']}/progress", headers=world["admin"]).get_json()
    assert [(p["customer_id"], p["userid"]) for p in progress["items"]] == [(world["赵六"], "lisi")]


def test_working_hours_move_a_saturday_step_to_monday_morning(client, runtime, world, sender) -> None:  # type: ignore[no-untyped-def]
    create(client, world["admin"], working_hours_only=True, steps=[step(hours_after=1, day=None, at=None)])
    with runtime.WriteSession.begin() as s:
        s.add(WorkCalendar(corp_id=CORP_ID, week={"mon": [["09:30", "18:00"]]}, holidays=[]))
    saturday = dt.datetime(2026, 11, 28, 15, 0, tzinfo=SHANGHAI)
    assert sender.post(ADD, ExternalUserID="wmWeekend", UserID="zhangsan",
                       CreateTime=str(int(saturday.timestamp()))).status_code == 200
    with runtime.Session() as s:
        assert s.scalar(select(SopRun.due_at)) == dt.datetime(2026, 11, 30, 9, 30, tzinfo=SHANGHAI)


def test_a_birthday_plan_enrols_three_days_ahead_once_a_day_in_the_corp_zone(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        s.execute(update(Corp).where(Corp.corp_id == CORP_ID).values(timezone="America/Los_Angeles"))
        field = CustomField(corp_id=CORP_ID, key="birthday", label="生日", type="date")
        s.add(field)
        s.flush()
        s.add_all([CustomerFieldValue(customer_id=world["王小明"], field_id=field.id, value="1990-12-03",
                                      text="1990-12-03"),
                   CustomerFieldValue(customer_id=world["赵六"], field_id=field.id, value="1990-12-04",
                                      text="1990-12-04")])
    create(client, world["admin"], trigger="date", date_field="birthday", days_before=3,
           steps=[step(day=0, at="10:00")])
    now = dt.datetime(2026, 11, 30, 20, 0, tzinfo=dt.UTC)  # 12:00 on 30 November in Los Angeles
    assert scan_dates(now) == 1 and scan_dates(now + dt.timedelta(hours=1)) == 0
    with runtime.Session() as s:
        assert s.execute(select(SopEnrolment.customer_id, SopEnrolment.cycle)).all() == [(world["王小明"], "2026")]
        assert s.scalar(select(SopRun.due_at)) == dt.datetime(2026, 11, 30, 10, tzinfo=ZoneInfo("America/Los_Angeles"))


def test_a_template_step_goes_out_through_add_msg_template_for_the_follower(  # type: ignore[no-untyped-def]
        client, runtime, world, sender, fake_wecom) -> None:
    link = {"type": "link", "title": "新品", "url": "https://example.invalid/p"}
    create(client, world["admin"], steps=[step(via="template", hours_after=0, day=None, at=None,
                                               messages=[TEXT, link])])
    assert sender.post(ADD, ExternalUserID="wmTemplate", UserID="zhangsan").status_code == 200
    fake_wecom.clear_calls()
    assert fire_due(dt.datetime.now(dt.UTC) + dt.timedelta(days=800)) == 1
    assert [c["body"] for c in fake_wecom.calls("externalcontact/add_msg_template")] == [{
        "chat_type": "single", "external_userid": ["wmTemplate"], "sender": "zhangsan",
        "text": {"content": TEXT["text"]},
        "attachments": [{"msgtype": "link", "link": {"title": "新品", "url": "https://example.invalid/p"}}]}]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 0  # sent, not handed to the follower
