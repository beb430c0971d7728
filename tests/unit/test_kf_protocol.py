"""Customer service against the fake WeCom's stricter rules (issue 10, points 1-4), jobs inline: answer msgids
WeCom takes, sessions that lapse where WeCom may not end them, text limits in bytes, the first sync's three
days of old messages, an expired sync token, msg_send_fail and kf_account_auth_change."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from kf_support import text
from sqlalchemy import select, update

from models import DeadLetter, KfAccount, KfCursor, KfSession, KfSettings, Message
from models.db import utcnow
from support import CORP_ID
from test_kf_flow import ANSWER, account, admin, bodies, deliver, kf, sessions  # noqa: F401  (fixtures)
from wecom.events import parse
from wecom.fake.sender import render_sample


@pytest.fixture
def knowledge(client, admin) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    r = client.post("/api/v1/kf/knowledge", json={"question": "怎么退货", "similar": ["如何退货"], "answer": ANSWER},
                    headers=admin)
    assert r.status_code == 201


def dead_letters(runtime) -> list[str]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return list(s.scalars(select(DeadLetter.error)))


def age(runtime, external_userid: str, **delta: float) -> None:  # type: ignore[no-untyped-def]
    """The customer's session last heard from them `delta` ago."""
    with runtime.WriteSession.begin() as s:
        s.execute(update(KfSession).where(KfSession.external_userid == external_userid)
                  .values(last_message_at=utcnow() - dt.timedelta(**delta)))


def tick() -> dict[str, int]:
    from jobs.kf import kf_tick

    return kf_tick()


# -- 1. send_msg's msgid ----------------------------------------------------------------------------------

def test_the_bot_answers_a_44_character_msgid_and_wecom_takes_the_answer(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge) -> None:  # noqa: F811
    written = deliver(sender, kf, account["open_kfid"], text("wmA", "请问如何退货？"))
    assert len(written["msgids"][0]) == 44  # the fake's ids are as long as WeCom's
    [call] = fake_wecom.calls("kf/send_msg")
    assert call["errcode"] == 0, call
    assert re.fullmatch(r"[0-9a-zA-Z_-]{1,32}", call["body"]["msgid"])
    [session] = sessions(runtime)
    assert (session.state, session.bot_msgs) == ("bot", 1)
    with runtime.Session() as s:
        assert s.scalar(select(Message.msgid).where(Message.origin == "bot")) == call["body"]["msgid"]
    assert dead_letters(runtime) == []


# -- 2. ending sessions WeCom's way ---------------------------------------------------------------------------

def test_closing_words_in_a_bot_session_let_it_lapse_with_the_end_message(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge) -> None:  # noqa: F811
    """WeCom lets the API end a session only from 3: a bot session (WeCom's 0) gets the end message through
    send_msg and lapses; it is ended here once WeCom's 48 h are up, not before."""
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "如何退货"))
    deliver(sender, kf, open_kfid, text("wmA", "谢谢"))
    assert [c for c in fake_wecom.calls("kf/service_state/trans")] == []  # no refused 0 → 4
    assert [b["text"]["content"] for b in bodies(fake_wecom, "kf/send_msg")] == [ANSWER, "本次会话已结束，感谢您的咨询。"]
    [session] = sessions(runtime)
    assert (session.state, session.end_reason, session.ended_at) == ("lapsing", "closing", None)
    assert kf.conversation(open_kfid, "wmA")["service_state"] == 0  # WeCom still holds it open
    age(runtime, "wmA", hours=47)
    tick()
    assert sessions(runtime)[0].state == "lapsing"
    age(runtime, "wmA", hours=49)
    tick()
    [session] = sessions(runtime)
    assert (session.state, session.end_reason) == ("ended", "closing") and session.ended_at is not None
    assert dead_letters(runtime) == []


def test_a_resumed_session_that_lapses_again_says_goodbye_again_and_a_person_can_still_end_it(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge) -> None:  # noqa: F811
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "如何退货"))
    deliver(sender, kf, open_kfid, text("wmA", "谢谢"))
    deliver(sender, kf, open_kfid, text("wmA", "如何退货"), text("wmA", "谢谢"))  # resumed, then lapsing again
    sent = bodies(fake_wecom, "kf/send_msg")
    assert [b["text"]["content"] for b in sent] == [ANSWER, "本次会话已结束，感谢您的咨询。"] * 2
    assert len({b["msgid"] for b in sent}) == 4  # WeCom refuses a repeated msgid
    deliver(sender, kf, open_kfid, text("wmA", "人工"), text("wmA", "谢谢"))  # to a person, who ends it
    assert [b["service_state"] for b in bodies(fake_wecom, "kf/service_state/trans")] == [3, 4]
    [session] = sessions(runtime)
    assert (session.state, session.end_reason) == ("ended", "closing")
    assert kf.conversation(open_kfid, "wmA")["service_state"] == 4
    assert dead_letters(runtime) == []


def test_a_queued_customer_who_falls_silent_lapses_and_writing_again_continues_the_session(  # type: ignore[no-untyped-def]
        client, admin, sender, kf, account, fake_wecom, runtime) -> None:  # noqa: F811
    assert client.put("/api/v1/kf/settings", json={"silence_minutes": 5}, headers=admin).status_code == 200
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "人工"), text("wmB", "人工"), text("wmC", "人工"))
    fake_wecom.clear_calls()
    age(runtime, "wmC", minutes=6)
    tick()
    queued = next(s for s in sessions(runtime) if s.external_userid == "wmC")
    assert (queued.state, queued.end_reason) == ("lapsing", "silence")
    assert fake_wecom.calls("kf/service_state/trans") == [] and fake_wecom.calls("kf/send_msg") == []
    assert kf.conversation(open_kfid, "wmC")["service_state"] == 2  # still in WeCom's queue
    deliver(sender, kf, open_kfid, text("wmC", "还在排队吗"))
    again = [s for s in sessions(runtime) if s.external_userid == "wmC"]
    assert [(s.id, s.state, s.end_reason) for s in again] == [(queued.id, "queue", None)]


def test_a_session_wecom_ended_unseen_ends_here_without_a_dead_letter(  # type: ignore[no-untyped-def]
        client, admin, sender, kf, account, fake_wecom, runtime) -> None:  # noqa: F811
    """A receptionist's session that WeCom ended (95013 to the end call) is simply ended; no retry, no alarm."""
    assert client.put("/api/v1/kf/settings", json={"silence_minutes": 5}, headers=admin).status_code == 200
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "人工"))
    kf.write(open_kfid, {"external_userid": "wmA", "event": {"event_type": "session_status_change",
                                                              "change_type": 3, "old_servicer_userid": "lisi"}})
    age(runtime, "wmA", minutes=6)  # the callback for that end never came; the silence sweep ends it
    tick()
    assert [c["errcode"] for c in fake_wecom.calls("kf/service_state/trans")][-1] == 95013
    [session] = sessions(runtime)
    assert (session.state, session.end_reason) == ("ended", "silence")
    assert dead_letters(runtime) == []


def test_a_session_wecom_no_longer_holds_at_3_is_not_marked_ended(  # type: ignore[no-untyped-def]
        client, admin, sender, kf, account, fake_wecom, runtime) -> None:  # noqa: F811
    """WeCom ended the receptionist's session and the customer wrote again (a new session, state 0), all
    unseen here: the end call is refused (95016), and the session lapses instead of ending."""
    assert client.put("/api/v1/kf/settings", json={"silence_minutes": 5}, headers=admin).status_code == 200
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "人工"))
    kf.write(open_kfid, {"external_userid": "wmA", "event": {"event_type": "session_status_change",
                                                              "change_type": 3, "old_servicer_userid": "lisi"}},
             text("wmA", "又有问题了"))
    age(runtime, "wmA", minutes=6)
    tick()
    assert [c["errcode"] for c in fake_wecom.calls("kf/service_state/trans")][-1] == 95016
    [session] = sessions(runtime)
    assert (session.state, session.ended_at) == ("lapsing", None)
    assert kf.conversation(open_kfid, "wmA")["service_state"] == 0
    assert dead_letters(runtime) == []


def test_a_queued_customer_wecom_already_let_go_is_ended_not_handed_over(  # type: ignore[no-untyped-def]
        client, admin, sender, kf, account, fake_wecom, runtime) -> None:  # noqa: F811
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "人工"), text("wmB", "人工"), text("wmC", "人工"))
    r = client.patch(f"/api/v1/kf/accounts/{account['id']}", json={"max_sessions": 2}, headers=admin)
    assert r.status_code == 200
    fake_wecom.fault("kf/service_state/trans", errcode=95013)  # WeCom ended wmC's session meanwhile
    tick()  # room again: the queue's wmC goes to a receptionist
    assert [(c["body"]["external_userid"], c["errcode"]) for c in fake_wecom.calls("kf/service_state/trans")][-1] \
        == ("wmC", 95013)
    c = next(s for s in sessions(runtime) if s.external_userid == "wmC")
    assert (c.state, c.end_reason) == ("ended", "wecom")
    assert dead_letters(runtime) == []


# -- 3. text lengths in bytes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path, field", [("/api/v1/kf/settings", "end_message"), ("accounts", "welcome_text")])
def test_texts_over_2048_bytes_are_422_naming_the_field_and_change_nothing(  # type: ignore[no-untyped-def]
        client, admin, account, runtime, path: str, field: str) -> None:  # noqa: F811
    long_text = "您" * 1000  # 1,000 characters, 3,000 bytes
    if path == "accounts":
        r = client.patch(f"/api/v1/kf/accounts/{account['id']}", json={field: long_text}, headers=admin)
    else:
        r = client.put(path, json={field: long_text}, headers=admin)
    assert r.status_code == 422 and "2048 bytes" in r.get_json()["error"]["fields"][field], r.get_json()
    with runtime.Session() as s:
        assert s.scalar(select(KfAccount.welcome_text)) != long_text
        assert s.scalar(select(KfSettings.end_message)) in (None, "本次会话已结束，感谢您的咨询。")
    fits = "您" * 682  # 2,046 bytes
    if path == "accounts":
        r = client.patch(f"/api/v1/kf/accounts/{account['id']}", json={field: fits}, headers=admin)
    else:
        r = client.put(path, json={field: fits}, headers=admin)
    assert r.status_code in (200, 202)


# -- 4. sync_msg ----------------------------------------------------------------------------------------------

def test_a_first_sync_stores_three_days_of_messages_and_acts_only_on_recent_ones(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge) -> None:  # noqa: F811
    now = int(time.time())
    written = deliver(sender, kf, account["open_kfid"],
                      {**text("wmOld", "如何退货"), "send_time": now - 2 * 86400},
                      {**text("wmOld", "人工"), "send_time": now - 86400},
                      {**text("wmStale", "人工"), "send_time": now - 31 * 60},
                      text("wmNew", "如何退货"))
    with runtime.Session() as s:
        assert sorted(s.scalars(select(Message.msgid).where(Message.origin == "customer"))) == sorted(written["msgids"])
    assert [b["touser"] for b in bodies(fake_wecom, "kf/send_msg")] == ["wmNew"]
    assert fake_wecom.calls("kf/service_state/trans") == []
    assert [s.external_userid for s in sessions(runtime)] == ["wmNew"]


def test_an_expired_token_is_dropped_and_the_sync_runs_without_it(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime) -> None:  # noqa: F811
    from kf_support import kf_callback

    open_kfid = account["open_kfid"]
    written = kf.write(open_kfid, text("wmA", "你好"))
    assert sender.post_xml(kf_callback("ENCexpiredLongAgo", open_kfid)).status_code == 200
    calls = fake_wecom.calls("kf/sync_msg")
    assert [(c["body"].get("token"), c["errcode"]) for c in calls] == [("ENCexpiredLongAgo", 95007), (None, 0)]
    with runtime.Session() as s:
        assert list(s.scalars(select(Message.msgid))) == written["msgids"]
        assert s.scalar(select(KfCursor.token)) == ""
    assert dead_letters(runtime) == []


def _fail(external_userid: str, fail_msgid: str, fail_type: int) -> dict[str, Any]:
    """WeCom's msg_send_fail event for one of our messages."""
    return {"external_userid": external_userid, "event": {"event_type": "msg_send_fail", "fail_msgid": fail_msgid,
                                                          "fail_type": fail_type}}


def test_an_undelivered_bot_answer_brings_a_person(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge) -> None:  # noqa: F811
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "如何退货"))
    [answer] = bodies(fake_wecom, "kf/send_msg")
    deliver(sender, kf, open_kfid, _fail("wmA", answer["msgid"], 6))  # over the 5-message limit
    [session] = sessions(runtime)
    assert (session.state, session.servicer_userid) == ("human", "lisi")
    assert [(b["external_userid"], b["service_state"]) for b in bodies(fake_wecom, "kf/service_state/trans")] == [
        ("wmA", 3)]
    with runtime.Session() as s:
        raw = s.scalar(select(Message.raw).where(Message.msgid == answer["msgid"]))
    assert raw["send_fail"] == {"fail_type": 6}


def test_a_closed_session_ends_here_and_a_deleted_account_is_told_to_its_servicers(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge) -> None:  # noqa: F811
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "如何退货"), text("wmB", "如何退货"))
    answers = {b["touser"]: b["msgid"] for b in bodies(fake_wecom, "kf/send_msg")}
    fake_wecom.clear_calls()
    deliver(sender, kf, open_kfid, _fail("wmA", answers["wmA"], 5),
            _fail("wmB", answers["wmB"], 1))
    a, b = sessions(runtime)
    assert (a.state, a.end_reason) == ("ended", "send_failed")
    assert b.state == "bot"  # nothing a person in the chat can do: the admins must restore the account
    [notice] = bodies(fake_wecom, "message/send")
    assert notice["touser"] == "lisi|zhangsan" and "客服账号已删除" in notice["text"]["content"]
    assert fake_wecom.calls("kf/service_state/trans") == []


def auth_change(added: list[str], removed: list[str]) -> str:
    nodes = "".join(f"<AuthAddOpenKfId><![CDATA[{k}]]></AuthAddOpenKfId>" for k in added) + "".join(
        f"<AuthDelOpenKfId><![CDATA[{k}]]></AuthDelOpenKfId>" for k in removed)
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><CreateTime>{int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_account_auth_change]]></Event>{nodes}</xml>")


def test_repeated_auth_nodes_are_several_accounts() -> None:
    event = parse(render_sample("kf_account_auth_change"))
    assert (event.routing_key, event.known) == ("kf_account_auth_change", True)
    assert (getattr(event, "added", None), getattr(event, "removed", None)) == (
        ("wkDemoKf0001", "wkDemoKf0002"), ("wkDemoKf0003", "wkDemoKf0004"))
    assert getattr(parse(auth_change([], ["wkOnly"])), "removed", None) == ("wkOnly",)


def test_deauthorised_accounts_stop_syncing_until_given_back(  # type: ignore[no-untyped-def]
        client, admin, sender, kf, account, fake_wecom, runtime) -> None:  # noqa: F811
    open_kfid = account["open_kfid"]
    r = client.post("/api/v1/kf/accounts", json={"name": "售前客服", "media_id": "MEDIA_2"}, headers=admin)
    other = r.get_json()["open_kfid"]
    assert sender.post_xml(auth_change([], [open_kfid, other])).status_code == 200
    statuses = {a["open_kfid"]: a["status"] for a in client.get("/api/v1/kf/accounts", headers=admin).get_json()["items"]}
    assert statuses == {open_kfid: "deauthorised", other: "deauthorised"}
    deliver(sender, kf, open_kfid, text("wmA", "你好"))
    deliver(sender, kf, other, text("wmB", "你好"))
    assert fake_wecom.calls("kf/sync_msg") == []
    assert sender.post_xml(auth_change([open_kfid], [])).status_code == 200
    deliver(sender, kf, open_kfid, text("wmA", "在吗"))
    assert [c["body"]["open_kfid"] for c in fake_wecom.calls("kf/sync_msg")] == [open_kfid]
    with runtime.Session() as s:
        assert sorted(s.scalars(select(Message.external_userid))) == ["wmA", "wmA"]
    statuses = {a["open_kfid"]: a["status"] for a in client.get("/api/v1/kf/accounts", headers=admin).get_json()["items"]}
    assert statuses == {open_kfid: "active", other: "deauthorised"}
