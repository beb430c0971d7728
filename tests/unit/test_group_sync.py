"""The full customer-group sync (jobs inline): started by the API and the CLI, paged from the fake WeCom,
reconciled, reported by `GET /api/v1/groups/sync`; a re-sync with nothing changed writes nothing; and the
pure stint reconciliation it rests on (rules/group_members.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, func, select

from group_support import T0, at, fake_group, group_row, snapshot, stints
from models import AuditLog, Customer
from models.groups import CustomerGroup
from rules.group_members import OpenStint, SeenMember, plan


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("super_admin")


def groups_in_fake(fake_url: str, n: int) -> list[str]:
    return [fake_group(fake_url, "", callback=False, owner="zhangsan", name=f"群{i}", at=T0 + i,
                       members=[{"userid": f"wm{i}a", "join_scene": 3, "state": "c"}, {"userid": "wmShared"}])["chat_id"]
            for i in range(n)]


def sync(client, admin) -> dict:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/groups/sync", json={}, headers=admin)
    assert r.status_code == 202, r.get_json()
    job = r.get_json()["job"]
    assert r.headers["Location"] == job["url"]
    assert job["state"] == "done", job  # inline: done before the answer
    return job


def test_sync_pages_the_list_and_reconciles_every_group(client, admin, runtime, fake_wecom, monkeypatch) -> None:
    monkeypatch.setattr("jobs.group_sync.LIST_LIMIT", 2)  # three pages of the fake's list
    monkeypatch.setattr("jobs.group_sync.BATCH", 2)
    chat_ids = groups_in_fake(fake_wecom.url, 5)
    job = sync(client, admin)
    assert (job["done"], job["total"]) == (5, 5)
    assert job["result"]["groups_changed"] == 5 and job["result"]["customer_stubs"] == 6
    lists = fake_wecom.calls("externalcontact/groupchat/list")
    assert [c["body"].get("cursor") for c in lists] == [None, "2", "4"]
    assert all(c["body"]["limit"] == 2 and c["body"]["status_filter"] == 0 for c in lists)
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(CustomerGroup)) == 5
        group = group_row(s, chat_ids[3])
        assert (group.name, group.staff_count, group.external_count) == ("群3", 1, 2)
        assert stints(s, chat_ids[3])[1] == ("wm3a", at(T0 + 3), None, 3, None)
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "groups.sync")) == 1
    status = client.get("/api/v1/groups/sync", headers=admin).get_json()["items"][0]
    assert status["groups_changed"] == 5 and status["running"] is None
    assert status["text"].startswith("最近更新：") and status["text"].endswith("同步 5 条信息")


def test_a_resync_with_nothing_changed_writes_nothing(client, admin, runtime, fake_wecom) -> None:
    groups_in_fake(fake_wecom.url, 3)
    sync(client, admin)
    writes: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.split()[0].upper() in ("INSERT", "UPDATE", "DELETE") and any(
                table in statement for table in ("customer_groups", "group_members", "customers")):
            writes.append(statement)

    with runtime.Session() as s:
        before = snapshot(s)
    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        job = sync(client, admin)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert writes == [] and job["result"]["groups_changed"] == job["result"]["rows_written"] == 0
    with runtime.Session() as s:
        assert snapshot(s) == before
    assert client.get("/api/v1/groups/sync", headers=admin).get_json()["items"][0]["text"].endswith("同步 0 条信息")


def test_sync_repairs_missed_changes_and_dismisses_groups_wecom_no_longer_has(client, admin, runtime,
                                                                              fake_wecom) -> None:
    kept, gone = groups_in_fake(fake_wecom.url, 2)
    sync(client, admin)
    fake_group(fake_wecom.url, f"/{kept}/quit", callback=False, userids=["wm0a"])
    fake_group(fake_wecom.url, f"/{kept}/change", callback=False, name="改了名")
    fake_group(fake_wecom.url, f"/{gone}/dismiss", callback=False)
    job = sync(client, admin)
    assert (job["result"]["groups_changed"], job["result"]["quit"], job["result"]["dismissed"]) == (2, 4, 1)  # 1 quit + 3 closed by the dismissal
    with runtime.Session() as s:
        assert group_row(s, kept).name == "改了名"
        assert group_row(s, kept).external_count == 1
        assert group_row(s, gone).dismissed_at is not None and group_row(s, gone).external_count == 0


def test_the_cli_syncs_with_a_progress_report(app, runtime, fake_wecom) -> None:
    groups_in_fake(fake_wecom.url, 2)
    result = app.test_cli_runner().invoke(args=["groups", "sync", "--wait"])
    assert result.exit_code == 0, result.output
    assert "groups listed: 2, changed: 2" in result.output
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 3


def test_the_scheduled_job_syncs_every_corp(runtime, fake_wecom) -> None:
    from jobs.group_sync import sync_all_groups_job
    from models import JobRun

    groups_in_fake(fake_wecom.url, 1)
    assert sync_all_groups_job() == "1 corp(s)"
    with runtime.Session() as s:
        run = s.scalar(select(JobRun).where(JobRun.kind == "group_sync"))
        assert (run.state, run.requested_by, run.result["groups_changed"]) == ("done", "cron", 1)


def test_a_corp_bound_token_cannot_sync_another_corp(client, make_token) -> None:
    token = make_token("admin", userid="zhangsan")
    r = client.post("/api/v1/groups/sync", json={"corp_id": "wwsomeoneelse"}, headers=token)
    assert r.status_code == 403
    assert client.get("/api/v1/groups/sync?corp_id=wwsomeoneelse", headers=token).status_code == 403


# -- the reconciliation itself -------------------------------------------------------------------------------

T = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


def seen(member_id: str, joined: dt.datetime = T, **details) -> SeenMember:  # type: ignore[no-untyped-def]
    base = {"member_type": 2, "join_scene": 1, "inviter_userid": "", "join_state": "", "name": "",
            "group_nickname": "", "unionid": ""}
    base.update(details)
    return SeenMember(member_id=member_id, joined_at=joined, **base)


def held(stint_id: int, member_id: str, joined: dt.datetime = T, **details) -> OpenStint:  # type: ignore[no-untyped-def]
    return OpenStint(stint_id, member_id, joined, seen(member_id, joined, **details).details())


def test_plan_opens_new_closes_gone_and_corrects_details() -> None:
    result = plan([held(1, "a"), held(2, "b"), held(3, "c", name="旧")],
                  [seen("a"), seen("c", name="新", join_state="s"), seen("d")])
    assert [m.member_id for m in result.opens] == ["d"]
    assert result.closes == [2]
    assert result.updates == {3: {"name": "新", "join_state": "s"}}


def test_plan_of_the_same_members_is_empty() -> None:
    assert plan([held(1, "a", name="x")], [seen("a", name="x")]).rows == 0


def test_plan_takes_wecoms_join_time_and_sees_a_missed_rejoin() -> None:
    result = plan([held(1, "a", joined=T + dt.timedelta(seconds=5)), held(2, "b")],
                  [seen("a"), seen("b", joined=T + dt.timedelta(days=1))])
    assert result.updates == {1: {"joined_at": T}}
    assert result.closes == [2] and result.rejoined == {2: T + dt.timedelta(days=1)}
    assert [m.member_id for m in result.opens] == ["b"]


def test_a_second_delivery_of_a_sync_another_worker_is_running_leaves_it_be(runtime, fake_wecom) -> None:
    from jobs.group_sync import request_groups_sync
    from jobs.outbound import deliver_outbox
    from models import App, JobRun
    from models.db import utcnow
    from support import CORP_ID

    groups_in_fake(fake_wecom.url, 1)
    with runtime.WriteSession.begin() as s:
        row = request_groups_sync(s, CORP_ID, s.scalar(select(App.id)), "test")
        outbox_id, job_id = row.id, row.args["job_id"]
        s.get(JobRun, job_id).state, s.get(JobRun, job_id).updated_at = "running", utcnow()
    assert deliver_outbox(outbox_id) == "skipped"
    assert fake_wecom.calls("externalcontact/groupchat/list") == []
