"""How bot answers reach the staff member: a passive encrypted reply when the command is quick, message/send
from a job when it is not, once per MsgId whatever WeCom retries; and plan reminders at their time."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select

import jobs.bot
from bot_support import ADD, Bot, passive_text
from jobs.bot import remind_due_plans
from models import BotReply, Customer, DeadLetter, FollowUp, Inbox, Outbox, Plan
from support import AGENT_ID
from wecom.crypto import parse_xml


@pytest.fixture
def bot(sender, crypto, fake_wecom) -> Bot:  # type: ignore[no-untyped-def]
    assert sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan").status_code == 200
    fake_wecom.clear_calls()
    return Bot(sender, crypto)


def rows(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_passive_reply_is_an_encrypted_envelope_for_the_requests_nonce(bot, sender, crypto, fake_wecom) -> None:
    timestamp = str(int(time.time()))
    response = sender.post_xml(bot.xml("/跟进 王小明 聊过"), nonce="8675309", timestamp=timestamp)
    assert response.mimetype == "application/xml"
    envelope = parse_xml(response.data)
    assert sorted(child.tag for child in envelope) == ["Encrypt", "MsgSignature", "Nonce", "TimeStamp"]
    assert (envelope.findtext("Nonce"), envelope.findtext("TimeStamp")) == ("8675309", timestamp)
    assert passive_text(crypto, response, "zhangsan").startswith("已记录对「王小明😀」")
    assert fake_wecom.calls("message/send") == []  # answered once, passively


def test_a_retried_msgid_gets_the_same_answer_and_runs_once(bot, sender, crypto, runtime, fake_wecom) -> None:
    xml = bot.xml("/跟进 王小明 约了周五")
    first = passive_text(crypto, sender.post_xml(xml), "zhangsan")
    retry = passive_text(crypto, sender.post_xml(xml), "zhangsan")
    with runtime.Session() as s:
        customer_id = s.scalar(select(Customer.id))
    assert first == retry == f"已记录对「王小明😀」(#{customer_id}) 的跟进：约了周五"
    assert (rows(runtime, Inbox), rows(runtime, FollowUp), rows(runtime, BotReply)) == (2, 1, 1)  # the add + the command
    assert fake_wecom.calls("message/send") == []


def test_a_slow_command_is_answered_by_message_send_once(bot, sender, crypto, runtime, fake_wecom,
                                                         monkeypatch) -> None:
    monkeypatch.setattr(jobs.bot, "PASSIVE_BUDGET_SECONDS", -1.0)  # the budget is spent before the command runs
    xml = bot.xml("/跟进 王小明 慢慢来")
    assert passive_text(crypto, sender.post_xml(xml), "zhangsan") is None
    [call] = fake_wecom.calls("message/send")
    assert call["body"]["touser"] == "zhangsan" and call["body"]["agentid"] == AGENT_ID
    assert call["body"]["text"]["content"].startswith("已记录对「王小明😀」") and call["errcode"] == 0
    with runtime.Session() as s:
        assert s.scalar(select(BotReply.via)) == "message"
        assert s.execute(select(Outbox.job, Outbox.status).where(Outbox.job == "bot_message")).all() == [
            ("bot_message", "done")]
    monkeypatch.setattr(jobs.bot, "PASSIVE_BUDGET_SECONDS", 3.0)
    assert passive_text(crypto, sender.post_xml(xml), "zhangsan") is None  # the retry: no passive copy either
    assert len(fake_wecom.calls("message/send")) == 1
    assert rows(runtime, FollowUp) == 1


def test_replaying_a_command_event_does_not_run_it_again(bot, client, make_token, runtime, fake_wecom) -> None:
    assert bot.ask("/跟进 王小明 一次").startswith("已记录")
    with runtime.Session() as s:
        inbox_id = s.scalar(select(Inbox.id).where(Inbox.routing_key == "message/text"))
    assert client.post(f"/api/v1/events/{inbox_id}/replay", headers=make_token("admin")).status_code == 202
    assert (rows(runtime, FollowUp), rows(runtime, BotReply), rows(runtime, DeadLetter)) == (1, 1, 0)
    with runtime.Session() as s:
        assert s.get(Inbox, inbox_id).status == "processed"
    assert fake_wecom.calls("message/send") == []


def test_a_command_that_fails_in_the_callback_is_left_to_the_queue(bot, sender, crypto, runtime, fake_wecom,
                                                                   monkeypatch) -> None:
    calls = []

    def broken_once(inbox_id: int) -> str:
        calls.append(inbox_id)
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(jobs.bot, "process_event", broken_once)
    assert passive_text(crypto, bot.say("/跟进 王小明 稍后"), "zhangsan") is None
    assert len(calls) == 1
    # jobs inline: the queue ran the row at once, outside the passive window, so the answer went by message/send
    [call] = fake_wecom.calls("message/send")
    assert call["body"]["text"]["content"].startswith("已记录对「王小明😀」")
    assert rows(runtime, FollowUp) == 1


def test_plan_reminder_is_sent_at_its_time_once(bot, runtime, fake_wecom) -> None:
    assert bot.ask("/计划 30分钟后 给王总打电话").startswith("好的，")
    with runtime.Session() as s:
        plan = s.scalar(select(Plan))
    due = plan.due_at
    assert remind_due_plans(now=due - dt.timedelta(seconds=1)) == 0
    assert fake_wecom.calls("message/send") == []
    assert remind_due_plans(now=due) == 1
    [call] = fake_wecom.calls("message/send")
    local = due.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert call["body"] == {"touser": "zhangsan", "msgtype": "text", "agentid": AGENT_ID,
                            "text": {"content": f"计划提醒（{local:%m月%d日 %H:%M}）：给王总打电话"},
                            "enable_duplicate_check": 1, "duplicate_check_interval": 1800}
    assert call["errcode"] == 0
    assert remind_due_plans(now=due + dt.timedelta(minutes=5)) == 0
    assert len(fake_wecom.calls("message/send")) == 1
    with runtime.Session() as s:
        assert s.scalar(select(Plan.reminded_at)) == due


def test_a_reminder_names_the_plans_customer(bot, runtime, fake_wecom) -> None:
    bot.ask("/计划 明天上午10点 @王小明 送样品")
    with runtime.Session() as s:
        due = s.scalar(select(Plan.due_at))
    remind_due_plans(now=due + dt.timedelta(seconds=30))
    [call] = fake_wecom.calls("message/send")
    assert call["body"]["text"]["content"].endswith("：送样品（客户：王小明😀）")
