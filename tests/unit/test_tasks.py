"""Tasks over the admin API and their clock: validation edges (content 301, 10 attachments: 422 and nothing
stored), a once task issued at once to members and a department (expanded with the departments below it),
"done" refused after the deadline (409) and without a required proof (422), proofs stored, repeating tasks
rolled past a period already gone, deadline warnings sent once to the members not done and their managers
(seen on the fake WeCom). Rows: customer_world's zhangsan and lisi, put in departments here."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from customer_world import build, rejected
from jobs.tasks import cycles_due, issue_due, warn_due
from models import FollowUpCycle, Message, Staff, Task, TaskAssignment, TaskRound
from models.directory import Department
from storage import storage
from support import CORP_ID

SHANGHAI = ZoneInfo("Asia/Shanghai")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()


@pytest.fixture
def world(runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """wangwu leads 销售部 (1); zhangsan is in 一组 (2, under 1), lisi in 销售部 itself."""
    ids = build(runtime)
    with runtime.WriteSession.begin() as s:
        s.add_all([Department(corp_id=CORP_ID, dept_id=1, name="销售部", parent_id=None, leaders=["wangwu"]),
                   Department(corp_id=CORP_ID, dept_id=2, name="一组", parent_id=1, leaders=[]),
                   Staff(corp_id=CORP_ID, userid="wangwu", name="王五", department=[])])
        for userid, dept in (("zhangsan", 2), ("lisi", 1)):
            s.execute(update(Staff).where(Staff.corp_id == CORP_ID, Staff.userid == userid).values(department=[dept]))
    return {**ids, "admin": make_token("admin", name="adm"), "zhangsan": make_token("member", userid="zhangsan"),
            "lisi": make_token("member", userid="lisi")}


def create(client, headers, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/tasks", headers=headers,
                    json={"corp_id": CORP_ID, "name": "发朋友圈", "content": "转发新品海报", **body})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def sent(fake_wecom) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return sorted((c["body"]["touser"], c["body"]["text"]["content"]) for c in fake_wecom.calls("message/send"))


@pytest.mark.parametrize("body, field", [
    ({"content": "字" * 301}, "content"),
    ({"attachments": [{"type": "image", "pic_url": "https://x.invalid/a.png"}] * 10}, "attachments"),
    ({"name": "名" * 31}, "name"),
    ({"repeat": "weekly", "at": "10:00"}, "body"),
    ({"repeat": "monthly", "at": "10:00", "repeat_day": 32}, "body"),
    ({"at": "10:00"}, "body"),
    ({"userids": [], "dept_ids": []}, "body"),
    ({"warn_minutes": 10}, "body"),
    ({"userids": ["nobody"]}, "userids"),
    ({"every_days": 3, "repeat": "workday", "at": "10:00"}, "body"),
    ({"every_days": 0}, "every_days"),
])
def test_a_bad_task_is_a_422_and_nothing_is_stored(client, runtime, world, body, field) -> None:  # type: ignore[no-untyped-def]
    payload = {"corp_id": CORP_ID, "name": "发朋友圈", "content": "转发", "userids": ["zhangsan"], **body}
    error = rejected(runtime, lambda: client.post("/api/v1/tasks", headers=world["admin"], json=payload),
                     422, "invalid")
    assert field in error["fields"] or field == "body", error


def test_a_once_task_goes_to_members_and_departments_at_once(client, runtime, world, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    fake_wecom.clear_calls()
    task = create(client, world["admin"], dept_ids=[1], valid_minutes=120)
    current = task["current"]
    assert (task["kind"], current["assigned"], current["done"]) == ("once", 2, 0)
    assert [a["userid"] for a in current["assignments"]] == ["lisi", "zhangsan"]
    assert [to for to, _ in sent(fake_wecom)] == ["lisi|zhangsan"]
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=world["zhangsan"]).status_code == 200
    mine = client.get("/api/v1/tasks", headers=world["zhangsan"]).get_json()
    assert [t["id"] for t in mine["items"]] == [task["id"]]
    # a member sees their own assignment, and marks only their own done
    assert client.post(f"/api/v1/tasks/{task['id']}/done", headers=world["zhangsan"],
                       json={"userid": "lisi"}).status_code == 403
    r = client.post(f"/api/v1/tasks/{task['id']}/done", headers=world["zhangsan"], json={})
    assert r.status_code == 200 and r.get_json()["current"]["done"] == 1


def test_done_after_the_deadline_is_refused(client, runtime, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    task = create(client, world["admin"], userids=["zhangsan"], valid_minutes=60)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=61)
    monkeypatch.setattr("web.api_tasks.utcnow", lambda: later)
    error = rejected(runtime, lambda: client.post(f"/api/v1/tasks/{task['id']}/done", headers=world["zhangsan"],
                                                  json={}), 409, "deadline_passed")
    assert "deadline" in error["message"]


def test_a_proof_is_required_when_asked_and_stored(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    task = create(client, world["admin"], userids=["zhangsan"], proof_required=True)
    url = f"/api/v1/tasks/{task['id']}/done"
    rejected(runtime, lambda: client.post(url, headers=world["zhangsan"], json={}), 422, "invalid")
    rejected(runtime, lambda: client.post(url, headers=world["zhangsan"], json={"proofs": ["bm90IGFuIGltYWdl"]}),
             422, "invalid")
    rejected(runtime, lambda: client.post(url, headers=world["zhangsan"], json={"proofs": [PNG] * 10}), 422, "invalid")
    r = client.post(url, headers=world["zhangsan"], json={"proofs": [PNG, PNG]})
    assert r.status_code == 200 and r.get_json()["current"]["assignments"][0]["proofs"] == 2
    with runtime.Session() as s:
        keys = s.scalar(select(TaskAssignment.proofs))
    with storage(runtime).open(keys[0]) as f:
        assert f.read() == base64.b64decode(PNG)


def test_a_workday_task_created_after_its_time_rolls_to_the_next_workday(  # type: ignore[no-untyped-def]
        client, runtime, world, fake_wecom, monkeypatch) -> None:
    friday_noon = dt.datetime(2026, 11, 27, 12, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr("web.api_tasks.utcnow", lambda: friday_noon)  # created on Friday, after 10:00
    task = create(client, world["admin"], userids=["zhangsan"], repeat="workday", at="10:00",
                  starts_at=friday_noon.isoformat(), valid_minutes=480)
    monday = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
    assert dt.datetime.fromisoformat(task["next_issue_at"]) == monday and task["current"] is None
    fake_wecom.clear_calls()
    assert issue_due(monday - dt.timedelta(seconds=1)) == 0
    assert issue_due(monday + dt.timedelta(seconds=30)) == 1 and issue_due(monday + dt.timedelta(seconds=40)) == 0
    assert [to for to, _ in sent(fake_wecom)] == ["zhangsan"]
    with runtime.Session() as s:
        row = s.get_one(Task, task["id"])
        assert row.next_issue_at == dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
        assert s.scalar(select(TaskRound.deadline_at)) == dt.datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize("repeat, day, first", [
    ("weekly", 0, dt.datetime(2026, 11, 30, 9, 0)),  # Monday
    ("monthly", 31, dt.datetime(2026, 11, 30, 9, 0)),  # November has 30 days: its last
    ("monthly", 5, dt.datetime(2026, 12, 5, 9, 0)),
])
def test_weekly_and_monthly_tasks_start_at_their_next_period(  # type: ignore[no-untyped-def]
        client, world, monkeypatch, repeat, day, first) -> None:
    start = dt.datetime(2026, 11, 27, 12, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr("web.api_tasks.utcnow", lambda: start)
    task = create(client, world["admin"], userids=["zhangsan"], repeat=repeat, repeat_day=day, at="09:00",
                  starts_at=start.isoformat())
    assert dt.datetime.fromisoformat(task["next_issue_at"]) == first.replace(tzinfo=SHANGHAI)


def test_a_warning_goes_once_to_members_not_done_and_their_managers(client, runtime, world, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    task = create(client, world["admin"], dept_ids=[1], valid_minutes=60, warn_minutes=15)
    assert client.post(f"/api/v1/tasks/{task['id']}/done", headers=world["zhangsan"], json={}).status_code == 200
    fake_wecom.clear_calls()
    with runtime.Session() as s:
        warn_at = s.scalar(select(TaskRound.warn_at))
    assert warn_due(warn_at - dt.timedelta(seconds=1)) == 0
    assert warn_due(warn_at) == 1 and warn_due(warn_at + dt.timedelta(minutes=1)) == 0
    messages = sent(fake_wecom)
    assert [to for to, _ in messages] == ["lisi", "wangwu"]
    assert "请尽快完成" in messages[0][1] and messages[1][1].endswith("未完成：李四")


def test_an_ended_task_issues_no_more_rounds(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    start = dt.datetime(2026, 11, 27, 12, 0, tzinfo=SHANGHAI)
    task = create(client, world["admin"], userids=["zhangsan"], repeat="workday", at="10:00",
                  starts_at=start.isoformat())
    ended = client.post(f"/api/v1/tasks/{task['id']}/end", headers=world["admin"]).get_json()
    assert ended["ended_at"] and ended["next_issue_at"] is None
    assert issue_due(dt.datetime(2026, 12, 31, tzinfo=dt.UTC)) == 0


def test_a_follow_up_task_reminds_each_cycle_and_a_record_or_a_chat_restarts_it(  # type: ignore[no-untyped-def]
        client, runtime, world, fake_wecom, monkeypatch) -> None:
    start = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
    monkeypatch.setattr("web.api_tasks.utcnow", lambda: start)
    task = create(client, world["admin"], name="三天一跟进", userids=["zhangsan", "lisi"], every_days=3)
    assert (task["kind"], task["every_days"], task["follow_up_customers"]) == ("follow_up", 3, 3)  # 周八 is binned
    r = client.post("/api/v1/follow-ups", headers=world["lisi"], json={
        "customer_id": world["赵六"], "text": "电话回访", "at": (start + dt.timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.get_json()
    with runtime.WriteSession.begin() as s:
        s.add(Message(corp_id=CORP_ID, source="kf", msgid="chat-1", external_userid="wm孙七", origin="customer",
                      msgtype="text", content="在吗", send_time=start + dt.timedelta(days=2)))
    fake_wecom.clear_calls()
    assert cycles_due(start + dt.timedelta(days=3)) == 3 and cycles_due(start + dt.timedelta(days=3, minutes=1)) == 0
    assert sent(fake_wecom) == [("zhangsan", "跟进任务「三天一跟进」：客户「王小明」已3天未跟进，请及时跟进。")]
    with runtime.Session() as s:
        due = dict(s.execute(select(FollowUpCycle.customer_id, FollowUpCycle.due_at)).all())
    assert due == {world["王小明"]: start + dt.timedelta(days=6), world["赵六"]: start + dt.timedelta(days=4),
                   world["孙七"]: start + dt.timedelta(days=5)}
    fake_wecom.clear_calls()
    assert cycles_due(start + dt.timedelta(days=6)) == 3
    assert [to for to, _ in sent(fake_wecom)] == ["lisi", "lisi", "zhangsan"]
