"""App messages within WeCom's rules (docs 90454, 90236): a member's messages beyond the budget wait for
their time instead of being dropped by WeCom, a send carries the duplicate check and records unlicensed
members, and an app without an agent id never sends (agentid 0)."""

from __future__ import annotations

import requests
from sqlalchemy import func, select

from jobs.bot import remind_due_plans
from models import App, DeadLetter, Outbox, Plan
from models.db import utcnow
from tests.support import CORP_ID

LOST = "change_external_contact/del_follow_user"


def app_messages(fake) -> dict[str, list[dict]]:  # type: ignore[no-untyped-def]
    return requests.get(f"{fake.url}/fake/app_messages", timeout=5).json()


def lose_customers(sender, count: int) -> None:  # type: ignore[no-untyped-def]
    for n in range(count):
        assert sender.post(LOST, UserID="zhangsan", ExternalUserID=f"wmLost{n:04d}").status_code == 200


def test_messages_beyond_the_members_budget_wait_instead_of_being_dropped(sender, runtime, fake_wecom):
    lose_customers(sender, 31)
    log = app_messages(fake_wecom)
    assert (len(log["delivered"]), len(log["dropped"])) == (25, 0)  # 5 a minute stay free for urgent ones
    with runtime.Session() as s:
        waiting = s.execute(select(Outbox.status, Outbox.next_attempt_at).where(Outbox.job == "notify_lost",
                                                                        Outbox.status == "pending")).all()
    assert len(waiting) == 6 and all(next_attempt_at is not None for _, next_attempt_at in waiting)


def test_an_urgent_plan_reminder_goes_before_the_members_waiting_messages(sender, runtime, fake_wecom):
    lose_customers(sender, 27)  # 25 sent this minute, 2 wait for the next
    with runtime.WriteSession.begin() as s:
        s.add(Plan(corp_id=CORP_ID, app_pk=s.scalar(select(App.id)), userid="zhangsan", text="回电话",
                   due_at=utcnow()))
    assert remind_due_plans() == 1
    delivered = [m["message"]["text"]["content"] for m in app_messages(fake_wecom)["delivered"]]
    assert len(delivered) == 26 and "计划提醒" in delivered[-1]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "pending")) == 2


def test_a_send_carries_the_duplicate_check_and_records_unlicensed_members(sender, runtime, fake_wecom):
    requests.post(f"{fake_wecom.url}/fake/unlicensed", json={"corpid": CORP_ID, "userids": ["zhangsan"]},
                  timeout=5).raise_for_status()
    lose_customers(sender, 1)
    [call] = fake_wecom.calls("message/send")
    assert (call["body"]["enable_duplicate_check"], call["body"]["duplicate_check_interval"]) == (1, 1800)
    with runtime.Session() as s:
        result = s.scalar(select(Outbox.result).where(Outbox.job == "notify_lost"))
    assert result["unlicenseduser"] == "zhangsan"


def test_an_app_without_agent_id_never_sends(sender, runtime, fake_wecom):
    with runtime.WriteSession.begin() as s:
        s.scalar(select(App)).agent_id = None
    lose_customers(sender, 1)
    assert fake_wecom.calls("message/send") == []
    with runtime.Session() as s:
        [dead] = s.scalars(select(DeadLetter)).all()
        assert "no agent id" in dead.error
        assert s.scalar(select(Outbox.status).where(Outbox.job == "notify_lost")) == "failed"


def test_a_broadcast_shows_its_unlicensed_recipients(fake_wecom, client, make_token):
    requests.post(f"{fake_wecom.url}/fake/unlicensed", json={"corpid": CORP_ID, "userids": ["lisi"]},
                  timeout=5).raise_for_status()
    admin = make_token("admin")
    r = client.post("/api/v1/broadcasts", json={"name": "通知", "userids": ["zhangsan", "lisi"], "msgtype": "text",
                                                "body": {"content": "今晚盘点"}}, headers=admin)
    assert r.status_code == 202, r.get_json()
    got = client.get(f"/api/v1/broadcasts/{r.get_json()['id']}", headers=admin).get_json()
    assert (got["status"], got["unlicensed_users"], got["invalid_users"]) == ("sent", ["lisi"], [])
    assert [m["userid"] for m in app_messages(fake_wecom)["delivered"]] == ["zhangsan"]
