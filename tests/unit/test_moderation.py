"""Sensitive words and reply timeouts end to end, jobs inline: rules and settings through the admin API,
messages through the doors they really come in by (a customer writing to a kf account, a staff member
writing to the self-built app), alerts and timeouts in the DB, and the managers' app messages as the
fake WeCom saw them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from bot_support import Bot
from handlers.moderation import check_reply_timeouts
from jobs.moderation import reply_timeouts_job
from kf_support import text
from models import AuditLog, KfSession, Message
from models.conversation import MessageOrigin
from models.db import utcnow
from models.moderation import ModerationSettings, ReplyTimeout, SensitiveAlert, SensitiveRule
from moderation_support import World, local
from support import AGENT_ID, CORP_ID, MISSING_ID
from unit.test_kf_flow import account, deliver, kf  # noqa: F401  (fixtures)


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin")


@pytest.fixture
def world(runtime) -> World:  # type: ignore[no-untyped-def]
    return World(runtime)


@pytest.fixture
def bot(sender, crypto) -> Bot:  # type: ignore[no-untyped-def]
    return Bot(sender, crypto)


def rule(client, headers, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/sensitive-rules", json={"name": "引流", "words": "微信，返现", "enabled": True, **fields},
                    headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def configure(client, headers, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.put("/api/v1/moderation/settings", json=fields, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def alerts(runtime) -> list[SensitiveAlert]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return list(s.scalars(select(SensitiveAlert).order_by(SensitiveAlert.id)))


def sends(fake_wecom) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [c["body"] for c in fake_wecom.calls("message/send") if c["errcode"] == 0]


def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(model))


# -- sensitive words -----------------------------------------------------------------------------------------

def test_a_customers_kf_message_with_a_sensitive_word_alerts_the_manager(  # type: ignore[no-untyped-def]
        client, admin, account, sender, kf, runtime, fake_wecom) -> None:  # noqa: F811
    created = rule(client, admin)
    configure(client, admin, alert_userids=["lisi"])
    deliver(sender, kf, account["open_kfid"], text("wmGuest01", "加我微信，下单返现"), text("wmGuest01", "好的"))
    with runtime.Session() as s:
        message = s.scalar(select(Message).where(Message.content == "加我微信，下单返现"))
        servicer = s.scalar(select(KfSession.servicer_userid))
    assert servicer in {"zhangsan", "lisi"}
    assert [(a.message_pk, a.rule_pk, a.word, a.category, a.userid, a.external_userid, a.notified)
            for a in alerts(runtime)] == [
        (message.id, created["id"], "微信", "negative", servicer, "wmGuest01", ["lisi"]),
        (message.id, created["id"], "返现", "negative", servicer, "wmGuest01", ["lisi"])]
    [sent] = sends(fake_wecom)
    assert (sent["touser"], sent["agentid"], sent["msgtype"]) == ("lisi", AGENT_ID, "text")
    assert "「微信、返现」" in sent["text"]["content"] and "wmGuest01" in sent["text"]["content"]
    with runtime.Session() as s:
        assert s.get(SensitiveRule, created["id"]).hits == 1


def test_a_staff_members_app_message_is_stored_and_scanned(  # type: ignore[no-untyped-def]
        client, admin, bot, runtime, fake_wecom) -> None:
    rule(client, admin, words=["QQ"], category="neutral")
    configure(client, admin, alert_userids=["lisi"], alert_notify_sender=True)
    bot.say("客户要我的qq号", userid="zhangsan")
    bot.say("/help", userid="lisi")
    with runtime.Session() as s:
        stored = [(m.source, m.userid, m.origin, m.content) for m in s.scalars(select(Message).order_by(Message.id))]
    assert stored == [("app", "zhangsan", "servicer", "客户要我的qq号"), ("app", "lisi", "servicer", "/help")]
    [alert] = alerts(runtime)
    assert (alert.word, alert.category, alert.userid, alert.external_userid) == ("QQ", "neutral", "zhangsan", None)
    [sent] = sends(fake_wecom)
    assert sent["touser"] == "lisi|zhangsan" and "「QQ」" in sent["text"]["content"]


def test_a_retried_app_message_is_stored_and_alerted_once(client, admin, bot, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    rule(client, admin)
    configure(client, admin, alert_userids=["lisi"])
    xml = bot.xml("加我微信", userid="zhangsan", msg_id=7300000000000999001)
    bot.sender.post_xml(xml)
    bot.sender.post_xml(xml)
    assert count(runtime, Message) == 1 and len(alerts(runtime)) == 1 and len(sends(fake_wecom)) == 1


def test_rule_changes_take_effect_at_once(client, admin, bot, runtime) -> None:  # type: ignore[no-untyped-def]
    """A new rule is off; enabling, editing and deleting it each change what the next message hits."""
    r = client.post("/api/v1/sensitive-rules", json={"name": "引流", "words": "微信"}, headers=admin)
    assert r.status_code == 201 and r.get_json()["enabled"] is False
    rule_id = r.get_json()["id"]
    bot.say("加微信")
    assert alerts(runtime) == []
    assert client.patch(f"/api/v1/sensitive-rules/{rule_id}", json={"enabled": True}, headers=admin).status_code == 200
    bot.say("加微信")
    assert client.patch(f"/api/v1/sensitive-rules/{rule_id}", json={"words": "电话"}, headers=admin).status_code == 200
    bot.say("加微信")
    bot.say("留个电话")
    assert client.delete(f"/api/v1/sensitive-rules/{rule_id}", headers=admin).status_code == 200
    bot.say("留个电话")
    assert [a.word for a in alerts(runtime)] == ["微信", "电话"]
    assert client.get("/api/v1/sensitive-rules", headers=admin).get_json()["items"] == []


def test_without_recipients_or_an_app_the_alert_is_still_recorded(client, admin, bot, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    rule(client, admin)
    bot.say("加我微信")
    [alert] = alerts(runtime)
    assert alert.notified == [] and sends(fake_wecom) == []


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "一个超过十个字的规则名称啊", "words": "微信"}, "name"),
    ({"name": "引流"}, "words"),
    ({"name": "引流", "words": "，，"}, "words"),
    ({"name": "引流", "words": "字" * 501}, "words"),
    ({"name": "引流", "words": [1, 2]}, "words"),
    ({"name": "引流", "words": "微信", "category": "bad"}, "category"),
    ({"name": "引流", "words": "微信", "enabled": "yes"}, "enabled"),
])
def test_bad_rules_are_refused_and_nothing_is_stored(client, admin, runtime, body, field: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/sensitive-rules", json=body, headers=admin)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    assert count(runtime, SensitiveRule) == 0 and count(runtime, AuditLog) == 0


def test_rules_need_an_admin_and_their_own_corp(client, admin, make_token, runtime) -> None:  # type: ignore[no-untyped-def]
    member = make_token("member", userid="zhangsan")
    assert client.post("/api/v1/sensitive-rules", json={"name": "x", "words": "y"}, headers=member).status_code == 403
    assert client.get("/api/v1/sensitive-alerts", headers=member).status_code == 403
    created = rule(client, admin)
    from web.auth import create_token

    with runtime.WriteSession.begin() as s:
        other = {"Authorization": "Bearer " + create_token(s, "o", "admin", corp_id="wwothercorp00001")}
    assert client.patch(f"/api/v1/sensitive-rules/{created['id']}", json={"enabled": False},
                        headers=other).status_code == 404
    assert client.get("/api/v1/sensitive-rules", headers=other).get_json()["items"] == []
    assert client.patch(f"/api/v1/sensitive-rules/{MISSING_ID}", json={"enabled": False}, headers=admin).status_code == 404


def test_alerts_are_listed_filtered_and_reviewed(client, admin, bot, runtime) -> None:  # type: ignore[no-untyped-def]
    rule(client, admin)
    rule(client, admin, name="联系方式", words="电话", category="neutral")
    bot.say("加我微信", userid="zhangsan")
    bot.say("留个电话", userid="lisi")
    items = client.get("/api/v1/sensitive-alerts", headers=admin).get_json()["items"]
    assert [(a["word"], a["userid"], a["rule"], a["message"]["content"]) for a in items] == [
        ("电话", "lisi", "联系方式", "留个电话"), ("微信", "zhangsan", "引流", "加我微信")]
    assert [a["word"] for a in client.get("/api/v1/sensitive-alerts?staff=zhangsan", headers=admin)
            .get_json()["items"]] == ["微信"]
    assert [a["word"] for a in client.get("/api/v1/sensitive-alerts?category=neutral", headers=admin)
            .get_json()["items"]] == ["电话"]
    alert_id = items[0]["id"]
    r = client.patch(f"/api/v1/sensitive-alerts/{alert_id}", json={"status": "confirmed", "note": "已提醒"},
                     headers=admin)
    assert r.status_code == 200 and (r.get_json()["review_status"], r.get_json()["review_note"]) == ("confirmed", "已提醒")
    assert [a["word"] for a in client.get("/api/v1/sensitive-alerts?status=pending", headers=admin)
            .get_json()["items"]] == ["微信"]
    assert client.patch(f"/api/v1/sensitive-alerts/{alert_id}", json={"status": "maybe"},
                        headers=admin).status_code == 422
    for bad in ("status=maybe", "category=x", "since=yesterday", "since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z"):
        assert client.get(f"/api/v1/sensitive-alerts?{bad}", headers=admin).status_code == 400, bad


@pytest.mark.parametrize(("body", "field"), [
    ({"reply_timeout_minutes": -1}, "reply_timeout_minutes"),
    ({"reply_timeout_minutes": 1441}, "reply_timeout_minutes"),
    ({"reply_timeout_minutes": True}, "reply_timeout_minutes"),
    ({"alert_userids": "lisi"}, "alert_userids"),
    ({"alert_userids": [""]}, "alert_userids"),
    ({"alert_notify_sender": 1}, "alert_notify_sender"),
    ({"alert_userids": ["lisi"], "notify": True}, "notify"),
    ({}, "body"),
])
def test_bad_settings_are_refused_and_nothing_changes(client, admin, body, field: str) -> None:  # type: ignore[no-untyped-def]
    before = client.get("/api/v1/moderation/settings", headers=admin).get_json()
    r = client.put("/api/v1/moderation/settings", json=body, headers=admin)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    assert client.get("/api/v1/moderation/settings", headers=admin).get_json() == before


def test_working_hours_default_set_and_refused(client, admin) -> None:  # type: ignore[no-untyped-def]
    got = client.get("/api/v1/working-hours", headers=admin).get_json()
    assert got["default"] is True and got["week"]["mon"] == [["09:00", "18:00"]] and got["week"]["sat"] == []
    week = {"mon": [["13:30", "18:00"], ["09:00", "12:00"]], "sat": [["10:00", "16:00"]]}
    r = client.put("/api/v1/working-hours", json={"week": week, "holidays": ["2026-12-25"]}, headers=admin)
    assert r.status_code == 200
    got = client.get("/api/v1/working-hours", headers=admin).get_json()
    assert got["default"] is False and got["week"]["mon"] == [["09:00", "12:00"], ["13:30", "18:00"]]
    assert got["week"]["tue"] == [] and got["holidays"] == ["2026-12-25"]
    r = client.put("/api/v1/working-hours", json={"week": {"mon": [["18:00", "09:00"]]}}, headers=admin)
    assert r.status_code == 422 and "week.mon" in r.get_json()["error"]["fields"]
    assert client.get("/api/v1/working-hours", headers=admin).get_json() == got


# -- reply timeouts ------------------------------------------------------------------------------------------

def check(runtime, now: dt.datetime) -> list[tuple[int, str, dt.datetime, dt.datetime | None]]:  # type: ignore[no-untyped-def]
    """Run the detector at `now`; every timeout recorded so far as (message id, staff, due, replied)."""
    with runtime.WriteSession.begin() as s:
        check_reply_timeouts(s, CORP_ID, now)
    with runtime.Session() as s:
        return [(t.message_pk, t.userid, t.due_at, t.replied_at)
                for t in s.scalars(select(ReplyTimeout).order_by(ReplyTimeout.id))]


@pytest.fixture
def ten_minutes(client, admin) -> None:  # type: ignore[no-untyped-def]
    configure(client, admin, reply_timeout_minutes=10, reply_timeout_notify=False)


def test_friday_evening_message_times_out_monday_morning(world, runtime, ten_minutes) -> None:  # type: ignore[no-untyped-def]
    session = world.session("zhangsan")
    late = world.say(session, MessageOrigin.customer, local("2026-11-20 17:55"), "还在吗")
    assert check(runtime, local("2026-11-23 09:04")) == []
    assert check(runtime, local("2026-11-23 09:05")) == [(late, "zhangsan", local("2026-11-23 09:05"), None)]
    assert len(check(runtime, local("2026-11-23 10:00"))) == 1  # once


def test_an_answer_in_time_or_a_new_customer_message_stops_the_clock(world, runtime, ten_minutes) -> None:  # type: ignore[no-untyped-def]
    answered = world.session("zhangsan", external_userid="wmA")
    world.say(answered, MessageOrigin.customer, local("2026-11-20 17:55"))
    world.say(answered, MessageOrigin.servicer, local("2026-11-20 17:58"))
    restarted = world.session("lisi", external_userid="wmB")
    world.say(restarted, MessageOrigin.customer, local("2026-11-20 17:55"))  # due Mon 09:05
    again = world.say(restarted, MessageOrigin.customer, local("2026-11-23 09:03"))  # due 09:13
    late = world.session("zhangsan", external_userid="wmC")
    slow = world.say(late, MessageOrigin.customer, local("2026-11-23 09:00"))
    world.say(late, MessageOrigin.servicer, local("2026-11-23 09:30"))
    assert check(runtime, local("2026-11-23 09:40")) == [
        (slow, "zhangsan", local("2026-11-23 09:10"), local("2026-11-23 09:30")),
        (again, "lisi", local("2026-11-23 09:13"), None)]


def test_holidays_and_unassigned_sessions(client, admin, world, runtime, ten_minutes) -> None:  # type: ignore[no-untyped-def]
    week = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    assert client.put("/api/v1/working-hours", json={"week": week, "holidays": ["2026-11-23"]},
                      headers=admin).status_code == 200
    queued = world.session(None, external_userid="wmQ")
    world.say(queued, MessageOrigin.customer, local("2026-11-20 17:55"))  # nobody to blame
    served = world.session("zhangsan")
    msg = world.say(served, MessageOrigin.customer, local("2026-11-20 17:55"))
    assert check(runtime, local("2026-11-23 12:00")) == []  # Monday is a holiday
    assert check(runtime, local("2026-11-24 09:05")) == [(msg, "zhangsan", local("2026-11-24 09:05"), None)]


def test_the_job_records_and_tells_the_staff_member(client, admin, world, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    """Through the periodic job, with a calendar that is always open, the way `rq cron` runs it."""
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert client.put("/api/v1/working-hours", json={"week": always}, headers=admin).status_code == 200
    configure(client, admin, reply_timeout_minutes=10)
    session = world.session("zhangsan", external_userid="wmGuest01")
    msg = world.say(session, MessageOrigin.customer, utcnow() - dt.timedelta(minutes=25), "发货了吗")
    world.say(session, MessageOrigin.customer, utcnow() - dt.timedelta(minutes=3), "急")  # still running
    assert reply_timeouts_job() == {"recorded": 1}
    assert reply_timeouts_job() == {"recorded": 0}
    [sent] = sends(fake_wecom)
    assert sent["touser"] == "zhangsan" and "发货了吗" in sent["text"]["content"] and "10 分钟" in sent["text"]["content"]
    items = client.get("/api/v1/reply-timeouts?staff=zhangsan", headers=admin).get_json()["items"]
    assert [(t["message_id"], t["userid"], t["external_userid"], t["limit_minutes"]) for t in items] == [
        (msg, "zhangsan", "wmGuest01", 10)]
    assert client.get("/api/v1/reply-timeouts?staff=lisi", headers=admin).get_json()["items"] == []
    assert client.get("/api/v1/reply-timeouts?since=nope", headers=admin).status_code == 400
    with runtime.Session() as s:
        assert s.scalar(select(ModerationSettings.timeouts_checked_until)) is not None


def test_a_limit_of_zero_records_nothing(client, admin, world, runtime) -> None:  # type: ignore[no-untyped-def]
    configure(client, admin, reply_timeout_minutes=0)
    world.say(world.session("zhangsan"), MessageOrigin.customer, local("2026-11-18 10:00"))
    assert check(runtime, local("2026-11-19 10:00")) == []
