"""A task's rounds (history) and reminders by hand (web/api_task_rounds.py): a repeating task's rounds listed
newest first with their period, deadline and who is done, paged; one round's detail; 404 for another task's
round; POST /tasks/<id>/remind sends an app message to the members not done (seen on the fake WeCom), is
audited, and a second one within 10 minutes is a 429 with Retry-After that sends and writes nothing; a task
ended, past its deadline or all done is a 409. World: tests/unit/test_tasks.py's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from customer_world import rejected
from jobs.tasks import issue_due
from models import AuditLog
from test_tasks import SHANGHAI, create, sent, world  # noqa: F401  (the fixture)

MONDAY = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


def workday_task(client: Any, world: dict[str, Any], monkeypatch: Any) -> dict[str, Any]:  # noqa: F811
    """A workday task at 10:00 for 一组 and lisi, issued Monday to Wednesday; zhangsan did Monday's."""
    friday = dt.datetime(2026, 11, 27, 12, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr("web.api_tasks.utcnow", lambda: friday)
    task = create(client, world["admin"], dept_ids=[1], repeat="workday", at="10:00", starts_at=friday.isoformat(),
                  valid_minutes=480)
    assert issue_due(MONDAY) == 1
    monkeypatch.setattr("web.api_tasks.utcnow", lambda: MONDAY + dt.timedelta(hours=1))
    assert client.post(f"/api/v1/tasks/{task['id']}/done", headers=world["zhangsan"], json={}).status_code == 200
    assert issue_due(MONDAY + dt.timedelta(days=1)) == 1 and issue_due(MONDAY + dt.timedelta(days=2)) == 1
    return task


def test_a_repeating_tasks_rounds_are_listed_with_their_period_and_who_is_done(  # type: ignore[no-untyped-def]
        client, world, monkeypatch) -> None:  # noqa: F811
    task = workday_task(client, world, monkeypatch)
    url = f"/api/v1/tasks/{task['id']}/rounds"
    r = client.get(url, headers=world["admin"])
    assert r.status_code == 200, r.get_json()
    page = r.get_json()
    assert page["total"] == 3 and [i["day"] for i in page["items"]] == ["2026-12-02", "2026-12-01", "2026-11-30"]
    monday = page["items"][2]
    assert (monday["done"], monday["not_done"], monday["done_userids"], monday["todo_userids"]) == (
        1, 1, ["zhangsan"], ["lisi"])
    assert dt.datetime.fromisoformat(monday["period_end"]) == MONDAY + dt.timedelta(days=1)
    assert dt.datetime.fromisoformat(monday["deadline_at"]) == MONDAY + dt.timedelta(hours=8)
    assert page["items"][0]["done"] == 0 and page["items"][0]["todo_userids"] == ["lisi", "zhangsan"]
    second = client.get(f"{url}?page=2&page_size=2", headers=world["admin"]).get_json()
    assert [i["id"] for i in second["items"]] == [monday["id"]] and second["total"] == 3

    detail = client.get(f"{url}/{monday['id']}", headers=world["admin"]).get_json()
    assert (detail["day"], detail["assigned"], detail["done"], detail["not_done"]) == ("2026-11-30", 2, 1, 1)
    assert [(a["userid"], a["status"]) for a in detail["assignments"]] == [("lisi", "todo"), ("zhangsan", "done")]
    # a member sees the rounds with only their own assignment
    mine = client.get(f"{url}/{monday['id']}", headers=world["zhangsan"]).get_json()
    assert [a["userid"] for a in mine["assignments"]] == ["zhangsan"]


def test_a_round_of_another_task_or_an_unknown_one_is_a_404(client, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    task = workday_task(client, world, monkeypatch)
    other = create(client, world["admin"], userids=["zhangsan"])
    round_id = client.get(f"/api/v1/tasks/{task['id']}/rounds", headers=world["admin"]).get_json()["items"][0]["id"]
    assert client.get(f"/api/v1/tasks/{other['id']}/rounds/{round_id}", headers=world["admin"]).status_code == 404
    assert client.get(f"/api/v1/tasks/{task['id']}/rounds/99999", headers=world["admin"]).status_code == 404
    assert client.get("/api/v1/tasks/99999/rounds", headers=world["admin"]).status_code == 404


def test_remind_messages_the_members_not_done_once_per_ten_minutes(  # type: ignore[no-untyped-def]
        client, runtime, world, fake_wecom, monkeypatch) -> None:  # noqa: F811
    task = create(client, world["admin"], dept_ids=[1], valid_minutes=120)
    assert client.post(f"/api/v1/tasks/{task['id']}/done", headers=world["zhangsan"], json={}).status_code == 200
    url = f"/api/v1/tasks/{task['id']}/remind"
    assert client.post(url, headers=world["zhangsan"]).status_code == 403  # a member does not remind
    fake_wecom.clear_calls()
    r = client.post(url, headers=world["admin"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["reminded"] == ["lisi"] and r.get_json()["round_id"] == task["current"]["id"]
    [(to, text)] = sent(fake_wecom)
    assert to == "lisi" and "「发朋友圈」尚未完成" in text
    with runtime.Session() as s:
        assert s.scalars(select(AuditLog.action).where(AuditLog.action == "task.remind")).all() == ["task.remind"]

    fake_wecom.clear_calls()
    r = client.post(url, headers=world["admin"])
    assert r.status_code == 429 and 590 <= int(r.headers["Retry-After"]) <= 600
    assert r.get_json()["error"]["code"] == "too_many_requests"
    rejected(runtime, lambda: client.post(url, headers=world["admin"]), 429, "too_many_requests")
    assert sent(fake_wecom) == []

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10, seconds=1)  # ten minutes later it may go again
    monkeypatch.setattr("web.api_task_rounds.utcnow", lambda: later)
    assert client.post(url, headers=world["admin"]).status_code == 200
    [(to, again)] = sent(fake_wecom)
    assert to == "lisi" and again != text  # the time in it: WeCom's duplicate check would drop the same text


def test_remind_is_refused_when_there_is_nothing_to_remind_of(  # type: ignore[no-untyped-def]
        client, runtime, world, monkeypatch) -> None:  # noqa: F811
    done = create(client, world["admin"], userids=["zhangsan"])
    assert client.post(f"/api/v1/tasks/{done['id']}/done", headers=world["zhangsan"], json={}).status_code == 200
    rejected(runtime, lambda: client.post(f"/api/v1/tasks/{done['id']}/remind", headers=world["admin"]),
             409, "all_done")
    later = create(client, world["admin"], userids=["zhangsan"], repeat="workday", at="10:00",
                   starts_at=(dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat())
    rejected(runtime, lambda: client.post(f"/api/v1/tasks/{later['id']}/remind", headers=world["admin"]),
             409, "no_round")
    late = create(client, world["admin"], userids=["zhangsan"], valid_minutes=30)
    monkeypatch.setattr("web.api_task_rounds.utcnow", lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31))
    rejected(runtime, lambda: client.post(f"/api/v1/tasks/{late['id']}/remind", headers=world["admin"]),
             409, "deadline_passed")
    assert client.post(f"/api/v1/tasks/{late['id']}/end", headers=world["admin"]).status_code == 200
    rejected(runtime, lambda: client.post(f"/api/v1/tasks/{late['id']}/remind", headers=world["admin"]),
             409, "task_ended")
    rejected(runtime, lambda: client.post("/api/v1/tasks/99999/remind", headers=world["admin"]), 404, "not_found")
