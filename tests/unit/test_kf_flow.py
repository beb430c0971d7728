"""WeChat customer service end to end with jobs inline: admin API → outbox → fake WeCom; customers write →
kf_msg_or_event callback → kf/sync_msg pages → messages, sessions, and the bot's and router's WeCom calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from kf_support import FakeKf, enter, kf_callback, text
from sqlalchemy import func, select, update

from models import KfAccount, KfCursor, KfServicer, KfSession, Message
from models.db import utcnow

WELCOME = "您好，请问有什么可以帮您？"
ANSWER = "七天无理由退货，在订单页点“申请售后”即可。"


@pytest.fixture
def kf(fake_wecom) -> FakeKf:  # type: ignore[no-untyped-def]
    return FakeKf(fake_wecom.url)


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin")


@pytest.fixture
def account(client, admin, fake_wecom) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An account made through the API, with zhangsan and lisi receiving, one session each at most."""
    r = client.post("/api/v1/kf/accounts", json={"name": "售后客服", "media_id": "MEDIA_1", "welcome_text": WELCOME,
                                                 "max_sessions": 1}, headers=admin)
    assert r.status_code == 202, r.get_json()
    created = r.get_json()
    r = client.post(f"/api/v1/kf/accounts/{created['id']}/servicers", json={"userids": ["zhangsan", "lisi"]},
                    headers=admin)
    assert r.status_code == 202
    fake_wecom.clear_calls()
    return r.get_json()


def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(model))


def sessions(runtime) -> list[KfSession]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return list(s.scalars(select(KfSession).order_by(KfSession.id)))


def deliver(sender, kf: FakeKf, open_kfid: str, *items: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Customers write; WeCom calls back; the sync runs (inline)."""
    written = kf.write(open_kfid, *items)
    r = sender.post_xml(kf_callback(written["token"], open_kfid))
    assert r.status_code == 200
    return written


def bodies(fake_wecom, path: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [c["body"] for c in fake_wecom.calls(path) if c["errcode"] == 0]


# -- admin side ----------------------------------------------------------------------------------------------

def test_an_account_its_servicers_and_a_scene_exist_in_wecom(client, admin, account, kf) -> None:  # type: ignore[no-untyped-def]
    open_kfid = account["open_kfid"]
    assert account["status"] == "active" and open_kfid.startswith("wk")
    assert [(s["userid"], s["status"]) for s in account["servicers"]] == [("lisi", "receiving"),
                                                                          ("zhangsan", "receiving")]
    r = client.post(f"/api/v1/kf/accounts/{account['id']}/scenes", json={"name": "官网", "scene": "web_home"},
                    headers=admin)
    assert r.status_code == 202
    scene = r.get_json()["scenes"][0]
    assert scene["status"] == "active" and scene["url"].endswith(f"{open_kfid}?enc_scene=web_home")
    state = kf.state()
    assert [(a["open_kfid"], a["name"], a["media_id"]) for a in state["accounts"]] == [(open_kfid, "售后客服", "MEDIA_1")]
    assert state["servicers"][open_kfid] == {"lisi": 0, "zhangsan": 0}


def test_update_and_delete_go_to_wecom(client, admin, account, fake_wecom, kf) -> None:  # type: ignore[no-untyped-def]
    r = client.patch(f"/api/v1/kf/accounts/{account['id']}", json={"name": "售前客服", "rule": "least_busy"},
                     headers=admin)
    assert r.status_code == 202 and (r.get_json()["name"], r.get_json()["rule"]) == ("售前客服", "least_busy")
    assert kf.state()["accounts"][0]["name"] == "售前客服"
    r = client.patch(f"/api/v1/kf/accounts/{account['id']}", json={"max_sessions": 3}, headers=admin)
    assert r.status_code == 200 and len(fake_wecom.calls("kf/account/update")) == 1  # ours only: no WeCom call
    assert client.delete(f"/api/v1/kf/accounts/{account['id']}", headers=admin).status_code == 202
    assert kf.state()["accounts"] == []
    assert client.get("/api/v1/kf/accounts", headers=admin).get_json()["items"] == []


def test_a_servicer_wecom_refuses_is_marked_failed(client, admin, account) -> None:  # type: ignore[no-untyped-def]
    r = client.post(f"/api/v1/kf/accounts/{account['id']}/servicers", json={"userids": ["ghost"]}, headers=admin)
    ghost = next(s for s in r.get_json()["servicers"] if s["userid"] == "ghost")
    assert ghost["status"] == "failed" and "60111" in ghost["error"]


# -- intake --------------------------------------------------------------------------------------------------

def test_three_pages_are_stored_once_and_the_cursor_ends_at_the_end(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime) -> None:
    open_kfid = account["open_kfid"]
    kf.paging(page_size=2)
    written = deliver(sender, kf, open_kfid, *(text(f"wmC{i}", f"第{i}个问题") for i in range(6)))
    assert [c["body"]["cursor"] for c in fake_wecom.calls("kf/sync_msg")] == ["", "c2", "c4"]
    with runtime.Session() as s:
        assert sorted(s.scalars(select(Message.msgid))) == sorted(written["msgids"])
        assert s.scalar(select(KfCursor.cursor)) == "c6"
    again = deliver(sender, kf, open_kfid, text("wmC0", "还有一个问题"))  # a later callback starts at c6
    assert [c["body"]["cursor"] for c in fake_wecom.calls("kf/sync_msg")][-1] == "c6"
    assert count(runtime, Message) == 7 and again["msgids"][0] in {m for m in _msgids(runtime)}


def _msgids(runtime) -> set[str]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return set(s.scalars(select(Message.msgid)))


def test_a_sync_that_finds_the_account_locked_leaves_the_work_to_the_holder(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime) -> None:
    """Inline (no Redis) the lock is a lease on the cursor row: a callback that finds it held only counts."""
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "你好"))
    with runtime.WriteSession.begin() as s:
        s.execute(update(KfCursor).values(locked_by="outbox-elsewhere", locked_until=utcnow() + dt.timedelta(seconds=60)))
    calls = len(fake_wecom.calls("kf/sync_msg"))
    deliver(sender, kf, open_kfid, text("wmA", "在吗"))
    assert len(fake_wecom.calls("kf/sync_msg")) == calls and count(runtime, Message) == 1
    with runtime.Session() as s:
        assert s.scalar(select(KfCursor.requested)) == 2
    with runtime.WriteSession.begin() as s:  # the holder's lease runs out (it died): the next sync takes over
        s.execute(update(KfCursor).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    deliver(sender, kf, open_kfid, text("wmA", "人呢"))
    assert count(runtime, Message) == 3


# -- sessions and the bot ------------------------------------------------------------------------------------

def test_enter_session_sends_the_welcome_with_its_code(sender, kf, account, fake_wecom, runtime) -> None:  # type: ignore[no-untyped-def]
    written = deliver(sender, kf, account["open_kfid"], enter("wmA", scene="web_home"))
    assert bodies(fake_wecom, "kf/send_msg_on_event") == [
        {"code": written["welcome_codes"][0], "msgtype": "text", "text": {"content": WELCOME}}]
    [session] = sessions(runtime)
    assert (session.state, session.scene, session.bot_msgs) == ("new", "web_home", 0)
    with runtime.Session() as s:
        assert s.scalar(select(Message.content).where(Message.origin == "bot")) == WELCOME


def test_a_known_question_gets_the_knowledge_base_answer(  # type: ignore[no-untyped-def]
        client, admin, sender, kf, account, fake_wecom, runtime) -> None:
    r = client.post("/api/v1/kf/knowledge", json={"question": "怎么退货", "similar": ["如何退货", "退货流程"],
                                                  "answer": ANSWER}, headers=admin)
    assert r.status_code == 201
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "请问如何退货？"))
    assert bodies(fake_wecom, "kf/service_state/trans") == []  # answered in 未处理, as WeCom allows
    [sent] = bodies(fake_wecom, "kf/send_msg")
    assert (sent["touser"], sent["open_kfid"], sent["text"]) == ("wmA", open_kfid, {"content": ANSWER})
    [session] = sessions(runtime)
    assert (session.state, session.customer_msgs, session.bot_msgs) == ("bot", 1, 1)
    assert session.first_response_at is not None
    assert kf.conversation(open_kfid, "wmA")["service_state"] == 0
    items = client.get("/api/v1/kf/knowledge", headers=admin).get_json()["items"]
    assert items[0]["hits"] == 1
    deliver(sender, kf, open_kfid, text("wmA", "人工"))  # from the bot to a person: WeCom moves 0 → 3
    assert [b["service_state"] for b in bodies(fake_wecom, "kf/service_state/trans")] == [3]
    assert kf.conversation(open_kfid, "wmA")["service_state"] == 3
    assert sessions(runtime)[0].state == "human"


def test_the_bot_answers_only_from_the_corps_qa_library(  # type: ignore[no-untyped-def]
        client, admin, make_token, sender, kf, account, fake_wecom) -> None:
    """Members' own libraries and the corp's 常用语 share the table: the bot never answers from them."""
    member = make_token("member", userid="zhangsan", name="zs")
    assert client.post("/api/v1/kf/knowledge", headers=member, json={
        "mine": True, "question": "怎么退货", "answer": "张三的私人答案"}).status_code == 201
    assert client.post("/api/v1/kf/knowledge", headers=admin, json={
        "kind": "phrase", "question": "怎么退货", "answer": "常用语答案"}).status_code == 201
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "怎么退货"))
    assert bodies(fake_wecom, "kf/send_msg") == []  # no answer of the corp's: the bot stays silent
    assert client.post("/api/v1/kf/knowledge", headers=admin, json={
        "question": "怎么退货", "answer": ANSWER}).status_code == 201
    deliver(sender, kf, open_kfid, text("wmB", "怎么退货"))
    assert [b["text"]["content"] for b in bodies(fake_wecom, "kf/send_msg")] == [ANSWER]


def test_asking_for_a_person_hands_over_by_round_robin_then_queues(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime) -> None:
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "人工"), text("wmB", "转人工"), text("wmC", "我要找人工客服"))
    moves = [(b["external_userid"], b["service_state"], b.get("servicer_userid"))
             for b in bodies(fake_wecom, "kf/service_state/trans")]
    assert moves == [("wmA", 3, "lisi"), ("wmB", 3, "zhangsan"), ("wmC", 2, None)]  # one each, then the queue
    assert [(s.external_userid, s.state, s.servicer_userid) for s in sessions(runtime)] == [
        ("wmA", "human", "lisi"), ("wmB", "human", "zhangsan"), ("wmC", "queue", None)]
    assert kf.conversation(open_kfid, "wmC")["service_state"] == 2
    assert bodies(fake_wecom, "kf/send_msg") == []


def test_an_unknown_question_goes_to_a_person(sender, kf, account, fake_wecom, runtime) -> None:  # type: ignore[no-untyped-def]
    deliver(sender, kf, account["open_kfid"], text("wmA", "你们老板是谁"))
    assert [b["service_state"] for b in bodies(fake_wecom, "kf/service_state/trans")] == [3]
    assert sessions(runtime)[0].state == "human"


def test_closing_words_end_the_session_and_free_the_receptionist_for_the_queue(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime) -> None:
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "人工"), text("wmB", "人工"), text("wmC", "人工"))
    deliver(sender, kf, open_kfid, {"external_userid": "wmA", "servicer_userid": "lisi", "text": "您好，我是李四"},
            text("wmA", "谢谢！"))
    [a, b, c] = sessions(runtime)
    assert (a.state, a.end_reason, a.customer_msgs, a.staff_msgs) == ("ended", "closing", 2, 1)
    assert (c.state, c.servicer_userid) == ("human", "lisi")  # the freed receptionist takes the queue
    moves = [(m["external_userid"], m["service_state"]) for m in bodies(fake_wecom, "kf/service_state/trans")]
    assert moves[-2:] == [("wmA", 4), ("wmC", 3)]
    [end] = bodies(fake_wecom, "kf/send_msg_on_event")
    assert end["text"]["content"] == "本次会话已结束，感谢您的咨询。"
    assert kf.conversation(open_kfid, "wmA")["service_state"] == 4


def test_wecom_side_events_end_sessions_and_stop_receptionists(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime) -> None:
    """A receptionist ends a session in the WeCom client (session_status_change 3): it ends here too, with no
    call back to WeCom, and the queue moves. One who stops receiving (servicer_status_change 2) gets nobody."""
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, {"event": {"event_type": "servicer_status_change", "servicer_userid": "zhangsan",
                                              "status": 2}})
    deliver(sender, kf, open_kfid, text("wmA", "人工"), text("wmB", "人工"))
    assert [(s.external_userid, s.state, s.servicer_userid) for s in sessions(runtime)] == [
        ("wmA", "human", "lisi"), ("wmB", "queue", None)]
    fake_wecom.clear_calls()
    deliver(sender, kf, open_kfid, {"external_userid": "wmA", "event": {
        "event_type": "session_status_change", "change_type": 3, "old_servicer_userid": "lisi"}})
    [a, b] = sessions(runtime)
    assert (a.state, a.end_reason, b.state, b.servicer_userid) == ("ended", "wecom", "human", "lisi")
    assert [(m["external_userid"], m["service_state"]) for m in bodies(fake_wecom, "kf/service_state/trans")] == [
        ("wmB", 3)]
    assert bodies(fake_wecom, "kf/send_msg_on_event") == []


def test_silence_ends_the_session_after_the_configured_minutes(  # type: ignore[no-untyped-def]
        client, admin, sender, kf, account, fake_wecom, runtime) -> None:
    assert client.put("/api/v1/kf/settings", json={"silence_minutes": 5, "end_message": "长时间未回复，会话结束"},
                      headers=admin).status_code == 200
    deliver(sender, kf, account["open_kfid"], text("wmA", "人工"), text("wmB", "人工"))
    from jobs.kf import kf_tick

    assert kf_tick() == {"ended": 0}
    with runtime.WriteSession.begin() as s:  # wmA has been silent for 6 minutes, wmB for 4
        s.execute(update(KfSession).where(KfSession.external_userid == "wmA")
                  .values(last_message_at=utcnow() - dt.timedelta(minutes=6)))
        s.execute(update(KfSession).where(KfSession.external_userid == "wmB")
                  .values(last_message_at=utcnow() - dt.timedelta(minutes=4)))
    assert kf_tick() == {"ended": 1}
    [a, b] = sessions(runtime)
    assert (a.state, a.end_reason, b.state) == ("ended", "silence", "human")
    assert [m["text"]["content"] for m in bodies(fake_wecom, "kf/send_msg_on_event")] == ["长时间未回复，会话结束"]
    assert kf.conversation(account["open_kfid"], "wmA")["service_state"] == 4


def test_removing_a_servicer_ends_their_sessions(client, admin, sender, kf, account, runtime) -> None:  # type: ignore[no-untyped-def]
    deliver(sender, kf, account["open_kfid"], text("wmA", "人工"))
    assert sessions(runtime)[0].servicer_userid == "lisi"
    assert client.delete(f"/api/v1/kf/accounts/{account['id']}/servicers/lisi", headers=admin).status_code == 202
    assert (sessions(runtime)[0].state, sessions(runtime)[0].end_reason) == ("ended", "servicer_removed")
    assert kf.state()["servicers"][account["open_kfid"]] == {"zhangsan": 0}
    assert count(runtime, KfServicer) == 1


def test_sessions_are_listed_with_counts_and_shown_with_messages(  # type: ignore[no-untyped-def]
        client, admin, sender, kf, account) -> None:
    deliver(sender, kf, account["open_kfid"], enter("wmA"), text("wmA", "人工"),
            {"external_userid": "wmA", "servicer_userid": "lisi", "text": "您好"})
    listed = client.get("/api/v1/kf/sessions?state=human&servicer=lisi", headers=admin).get_json()
    assert listed["total"] == 1
    row = listed["items"][0]
    assert (row["customer_msgs"], row["staff_msgs"], row["servicer_userid"]) == (1, 1, "lisi")
    assert row["first_response_seconds"] is not None and row["duration_seconds"] >= 0
    detail = client.get(f"/api/v1/kf/sessions/{row['session_id']}", headers=admin).get_json()
    # synced messages carry WeCom's whole-second send_time; our welcome is stored when WeCom took it, later
    assert [m["origin"] for m in detail["messages"]] == ["system", "customer", "servicer", "bot"]
    assert client.get("/api/v1/kf/sessions?state=ended", headers=admin).get_json()["total"] == 0
    assert client.get("/api/v1/kf/sessions/nope", headers=admin).status_code == 404


# -- bad input -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({"media_id": "M"}, "name"),
    ({"name": "一二三四五六七八九十一二三四五六七", "media_id": "M"}, "name"),
    ({"name": "客服"}, "media_id"),
    ({"name": "客服", "media_id": "M", "rule": "random"}, "rule"),
    ({"name": "客服", "media_id": "M", "max_sessions": 0}, "max_sessions"),
    ({"name": "客服", "media_id": "M", "max_sessions": "3"}, "max_sessions"),
])
def test_a_bad_account_is_422_and_changes_nothing(client, admin, fake_wecom, runtime, body, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/kf/accounts", json=body, headers=admin)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    assert count(runtime, KfAccount) == 0 and fake_wecom.calls("kf/account/add") == []


def test_the_eleventh_account_is_refused(client, admin, fake_wecom, runtime) -> None:  # type: ignore[no-untyped-def]
    for i in range(10):
        assert client.post("/api/v1/kf/accounts", json={"name": f"客服{i}", "media_id": "M"},
                           headers=admin).status_code == 202
    r = client.post("/api/v1/kf/accounts", json={"name": "客服10", "media_id": "M"}, headers=admin)
    assert r.status_code == 422 and count(runtime, KfAccount) == 10
    assert len(fake_wecom.calls("kf/account/add")) == 10


@pytest.mark.parametrize("method, path, body, status", [
    ("post", "/servicers", {"userids": []}, 422),
    ("post", "/servicers", {"userids": ["a", "a"]}, 422),
    ("post", "/servicers", {"userids": "zhangsan"}, 422),
    ("post", "/scenes", {"name": "官网", "scene": "官网"}, 422),
    ("post", "/scenes", {"name": "", "scene": "web"}, 422),
    ("post", "/scenes", "not json", 400),
    ("delete", "/servicers/nobody", None, 404),
    ("patch", "", {}, 422),
    ("patch", "", {"name": ""}, 422),
])
def test_bad_servicer_scene_and_update_requests(  # type: ignore[no-untyped-def]
        client, admin, account, fake_wecom, method, path, body, status) -> None:
    kwargs: dict[str, Any] = {"headers": admin}
    if isinstance(body, dict):
        kwargs["json"] = body
    elif body is not None:
        kwargs["data"] = body
    r = getattr(client, method)(f"/api/v1/kf/accounts/{account['id']}{path}", **kwargs)
    assert r.status_code == status and "error" in r.get_json()
    assert fake_wecom.calls() == []


@pytest.mark.parametrize("body, field", [
    ({"answer": "a"}, "question"),
    ({"question": "q"}, "answer"),
    ({"question": "q", "answer": "长" * 301}, "answer"),
    ({"question": "q", "answer": "a", "similar": "x"}, "similar"),
    ({"question": "q", "answer": "a", "enabled": "yes"}, "enabled"),
])
def test_a_bad_knowledge_item_is_422(client, admin, runtime, body, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/kf/knowledge", json=body, headers=admin)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    assert client.get("/api/v1/kf/knowledge", headers=admin).get_json()["total"] == 0


@pytest.mark.parametrize("body, field", [
    ({"bot_threshold": 0}, "bot_threshold"), ({"bot_threshold": 1.5}, "bot_threshold"),
    ({"silence_minutes": 0}, "silence_minutes"), ({"closing_words": ["", "再见"]}, "closing_words"),
    ({}, "body"),
])
def test_bad_settings_are_422_and_change_nothing(client, admin, body, field) -> None:  # type: ignore[no-untyped-def]
    before = client.get("/api/v1/kf/settings", headers=admin).get_json()
    r = client.put("/api/v1/kf/settings", json=body, headers=admin)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    assert client.get("/api/v1/kf/settings", headers=admin).get_json() == before


@pytest.mark.parametrize("query", ["state=open", "since=yesterday", "page_size=500",
                                   "since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z"])
def test_bad_session_queries_are_400(client, admin, query) -> None:  # type: ignore[no-untyped-def]
    assert client.get(f"/api/v1/kf/sessions?{query}", headers=admin).status_code == 400


def test_a_member_cannot_manage_customer_service(client, make_token, account) -> None:  # type: ignore[no-untyped-def]
    member = make_token("member", userid="zhangsan")
    assert client.get("/api/v1/kf/accounts", headers=member).status_code == 403
    assert client.post("/api/v1/kf/knowledge", json={"question": "q", "answer": "a"}, headers=member).status_code == 403
    assert client.get("/api/v1/kf/sessions", headers=member).status_code == 403
    assert client.get("/api/v1/kf/knowledge", headers=member).status_code == 200
