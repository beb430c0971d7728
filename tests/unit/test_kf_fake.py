"""The fake WeCom's customer-service (微信客服) endpoints and control routes, over real HTTP."""

from __future__ import annotations

from typing import Any

import time

import pytest
import requests
from test_fake_server import CORPID, api

from wecom.fake import FakeWeComServer


def add_account(fake: FakeWeComServer, token: str, name: str = "售后") -> str:
    result = api(fake, "kf/account/add", token, json={"name": name, "media_id": "M1"})
    assert result["errcode"] == 0, result
    return result["open_kfid"]


def write(fake: FakeWeComServer, open_kfid: str, *items: dict[str, Any]) -> dict[str, Any]:
    r = requests.post(f"{fake.url}/fake/kf/messages", json={"corpid": CORPID, "open_kfid": open_kfid,
                                                            "messages": list(items)}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def test_accounts_are_added_listed_updated_and_deleted(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    assert api(fake, "kf/account/update", token, json={"open_kfid": open_kfid, "name": "售前"})["errcode"] == 0
    listed = api(fake, "kf/account/list", token, json={"offset": 0, "limit": 100})["account_list"]
    assert [(a["open_kfid"], a["name"]) for a in listed] == [(open_kfid, "售前")]
    assert api(fake, "kf/account/del", token, json={"open_kfid": open_kfid})["errcode"] == 0
    assert api(fake, "kf/account/del", token, json={"open_kfid": open_kfid})["errcode"] == 95004
    assert api(fake, "kf/account/list", token, json={})["account_list"] == []


@pytest.mark.parametrize("body, errcode", [
    ({"name": "一二三四五六七八九十一二三四五六七", "media_id": "M"}, 95006),  # 17 characters
    ({"media_id": "M"}, 95006),
    ({"name": "客服"}, 40058),
])
def test_a_bad_account_is_refused(fake: FakeWeComServer, token: str, body: dict[str, Any], errcode: int) -> None:
    assert api(fake, "kf/account/add", token, json=body)["errcode"] == errcode
    assert api(fake, "kf/account/list", token, json={})["account_list"] == []


def test_servicers_are_answered_per_userid(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    result = api(fake, "kf/servicer/add", token, json={"open_kfid": open_kfid, "userid_list": ["zhangsan", "nobody"]})
    assert [(r["userid"], r["errcode"]) for r in result["result_list"]] == [("zhangsan", 0), ("nobody", 60111)]
    assert api(fake, "kf/servicer/list", token, open_kfid=open_kfid)["servicer_list"] == [
        {"userid": "zhangsan", "status": 0}]
    api(fake, "kf/servicer/del", token, json={"open_kfid": open_kfid, "userid_list": ["zhangsan"]})
    assert api(fake, "kf/servicer/list", token, open_kfid=open_kfid)["servicer_list"] == []
    assert api(fake, "kf/servicer/add", token, json={"open_kfid": open_kfid, "userid_list": []})["errcode"] == 40058


def test_scene_links_carry_the_scene(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    url = api(fake, "kf/add_contact_way", token, json={"open_kfid": open_kfid, "scene": "shop_1"})["url"]
    assert url.endswith(f"/kfid/{open_kfid}?enc_scene=shop_1")
    assert api(fake, "kf/add_contact_way", token, json={"open_kfid": open_kfid, "scene": "店铺"})["errcode"] == 40058


def test_sync_msg_pages_with_a_live_token(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    written = write(fake, open_kfid, *({"external_userid": "wmC", "text": f"m{i}"} for i in range(5)))
    requests.post(f"{fake.url}/fake/kf/paging", json={"page_size": 2}, timeout=5).raise_for_status()
    cursor, seen, pages = "", [], []
    while True:
        page = api(fake, "kf/sync_msg", token, json={"token": written["token"], "cursor": cursor,
                                                     "open_kfid": open_kfid})
        seen += [m["msgid"] for m in page["msg_list"]]
        pages.append(page["has_more"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == written["msgids"] and pages == [1, 1, 0]
    assert {m["origin"] for m in api(fake, "kf/sync_msg", token, json={
        "token": written["token"], "open_kfid": open_kfid})["msg_list"]} == {3}
    assert api(fake, "kf/sync_msg", token, json={"token": "forged", "open_kfid": open_kfid})["errcode"] == 95007
    assert api(fake, "kf/sync_msg", token, json={"open_kfid": open_kfid})["errcode"] == 0  # the token is optional
    assert api(fake, "kf/sync_msg", token, json={"token": written["token"], "open_kfid": "wkNone"})["errcode"] \
        == 95004


def test_a_welcome_code_works_once(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    code = write(fake, open_kfid, {"external_userid": "wmC", "event": {"event_type": "enter_session"}})[
        "welcome_codes"][0]
    message = {"code": code, "msgtype": "text", "text": {"content": "您好"}}
    assert api(fake, "kf/send_msg_on_event", token, json=message)["errcode"] == 0
    assert api(fake, "kf/send_msg_on_event", token, json=message)["errcode"] == 40058
    assert api(fake, "kf/send_msg_on_event", token, json={**message, "code": "made-up"})["errcode"] == 40058


def test_send_msg_follows_the_service_state_and_the_five_message_limit(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    api(fake, "kf/servicer/add", token, json={"open_kfid": open_kfid, "userid_list": ["zhangsan"]})
    message = {"touser": "wmC", "open_kfid": open_kfid, "msgtype": "text", "text": {"content": "答"}}
    assert api(fake, "kf/send_msg", token, json=message)["errcode"] == 95013  # no session yet
    write(fake, open_kfid, {"external_userid": "wmC", "text": "在吗"})
    assert [api(fake, "kf/send_msg", token, json=message)["errcode"] for _ in range(6)] == [0] * 5 + [95001]
    assert api(fake, "kf/send_msg", token, json={**message, "msgtype": "sticker"})["errcode"] == 40008
    assert api(fake, "kf/send_msg", token, json={**message, "text": {"content": " "}})["errcode"] == 44004
    move = {"open_kfid": open_kfid, "external_userid": "wmC"}
    assert api(fake, "kf/service_state/trans", token, json={**move, "service_state": 3,
                                                            "servicer_userid": "lisi"})["errcode"] == 95014
    taken = api(fake, "kf/service_state/trans", token, json={**move, "service_state": 3, "servicer_userid": "zhangsan"})
    assert taken["errcode"] == 0 and taken["msg_code"]
    assert api(fake, "kf/service_state/get", token, json=move)["servicer_userid"] == "zhangsan"
    write(fake, open_kfid, {"external_userid": "wmC", "text": "还在吗"})
    assert api(fake, "kf/send_msg", token, json=message)["errcode"] == 95018  # a person is receiving
    assert api(fake, "kf/service_state/trans", token, json={**move, "service_state": 1})["errcode"] == 95016
    ended = api(fake, "kf/service_state/trans", token, json={**move, "service_state": 4})
    assert api(fake, "kf/send_msg_on_event", token, json={"code": ended["msg_code"], "msgtype": "text",
                                                          "text": {"content": "再见"}})["errcode"] == 0
    assert api(fake, "kf/service_state/trans", token, json={**move, "service_state": 4})["errcode"] == 95013


def _session_in(fake: FakeWeComServer, token: str, open_kfid: str, state: int) -> dict[str, Any]:
    """A customer whose session WeCom holds in ``state`` (4: ended from a person, as the table allows)."""
    move = {"open_kfid": open_kfid, "external_userid": f"wmState{state}"}
    write(fake, open_kfid, {"external_userid": move["external_userid"], "text": "在吗"})
    path = {0: [], 1: [1], 2: [2], 3: [3], 4: [3, 4]}[state]
    for step in path:
        answer = api(fake, "kf/service_state/trans", token, json={**move, "service_state": step,
                                                                  "servicer_userid": "zhangsan"})
        assert answer["errcode"] == 0, answer
    return move


ALLOWED = {(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (3, 3), (3, 4)}


@pytest.mark.parametrize("start", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("target", [0, 1, 2, 3, 4])
def test_service_state_moves_follow_the_documented_table(fake: FakeWeComServer, token: str, start: int,
                                                         target: int) -> None:
    """Doc 94669: 0 → 1/2/3, 1 → 2/3, 2 → 3, 3 → 3/4; ending only from 3; nothing out of 4 (95013)."""
    open_kfid = add_account(fake, token)
    api(fake, "kf/servicer/add", token, json={"open_kfid": open_kfid, "userid_list": ["zhangsan"]})
    move = _session_in(fake, token, open_kfid, start)
    answer = api(fake, "kf/service_state/trans", token, json={**move, "service_state": target,
                                                              "servicer_userid": "zhangsan"})
    expected = 0 if (start, target) in ALLOWED else 95013 if start == 4 else 95016
    assert answer["errcode"] == expected
    now = api(fake, "kf/service_state/get", token, json=move)["service_state"]
    assert now == (target if expected == 0 else start)


def test_the_reply_code_comes_with_the_first_move_only(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    api(fake, "kf/servicer/add", token, json={"open_kfid": open_kfid, "userid_list": ["zhangsan", "lisi"]})
    move = _session_in(fake, token, open_kfid, 0)
    queued = api(fake, "kf/service_state/trans", token, json={**move, "service_state": 2})
    taken = api(fake, "kf/service_state/trans", token, json={**move, "service_state": 3, "servicer_userid": "lisi"})
    assert queued["msg_code"] and "msg_code" not in taken
    # the queue's code is for the queue: the session has left it
    assert api(fake, "kf/send_msg_on_event", token, json={"code": queued["msg_code"], "msgtype": "text",
                                                          "text": {"content": "请稍候"}})["errcode"] == 40058
    other = _session_in(fake, token, open_kfid, 1)
    picked = api(fake, "kf/service_state/trans", token, json={**other, "service_state": 3, "servicer_userid": "lisi"})
    menu = {"code": picked["msg_code"], "msgtype": "msgmenu", "msgmenu": {"list": []}}
    assert api(fake, "kf/send_msg_on_event", token, json=menu)["errcode"] == 40008  # text only
    assert api(fake, "kf/send_msg_on_event", token, json={"code": picked["msg_code"], "msgtype": "text",
                                                          "text": {"content": "您好，我是李四"}})["errcode"] == 0


@pytest.mark.parametrize("msgid, errcode", [
    ("a" * 32, 0), ("bot_0-9", 0), ("a" * 33, 40058), ("bot:1", 40058), ("答复", 40058), (7, 40058),
])
def test_send_msg_takes_a_msgid_of_32_allowed_characters(fake: FakeWeComServer, token: str, msgid: Any,
                                                         errcode: int) -> None:
    open_kfid = add_account(fake, token)
    write(fake, open_kfid, {"external_userid": "wmC", "text": "在吗"})
    message = {"touser": "wmC", "open_kfid": open_kfid, "msgtype": "text", "text": {"content": "答"}, "msgid": msgid}
    answer = api(fake, "kf/send_msg", token, json=message)
    assert answer["errcode"] == errcode
    if errcode == 0:
        assert answer["msgid"] == msgid
        assert api(fake, "kf/send_msg", token, json=message)["errcode"] == 40058  # unique per account
    else:
        assert requests.get(f"{fake.url}/fake/kf/state", timeout=5).json()["sent"] == []


def test_message_ids_look_like_wecoms(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    [msgid] = write(fake, open_kfid, {"external_userid": "wmC", "text": "在吗"})["msgids"]
    sent = api(fake, "kf/send_msg", token, json={"touser": "wmC", "open_kfid": open_kfid, "msgtype": "text",
                                                 "text": {"content": "答"}})["msgid"]
    for made in (msgid, sent):
        assert len(made) == 44 and made.isalnum() and made.isascii()


def test_text_is_at_most_2048_bytes_and_event_messages_are_text_or_menus(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    written = write(fake, open_kfid, {"external_userid": "wmC", "text": "在吗"},
                    {"external_userid": "wmC", "event": {"event_type": "enter_session"}})
    message = {"touser": "wmC", "open_kfid": open_kfid, "msgtype": "text"}
    assert api(fake, "kf/send_msg", token, json={**message, "text": {"content": "答" * 683}})["errcode"] == 45002
    assert api(fake, "kf/send_msg", token, json={**message, "text": {"content": "答" * 682}})["errcode"] == 0
    code = written["welcome_codes"][0]
    assert api(fake, "kf/send_msg_on_event", token, json={"code": code, "msgtype": "image",
                                                          "image": {"media_id": "M"}})["errcode"] == 40008
    assert api(fake, "kf/send_msg_on_event", token, json={"code": code, "msgtype": "text",
                                                          "text": {"content": "欢" * 683}})["errcode"] == 45002
    assert api(fake, "kf/send_msg_on_event", token, json={"code": code, "msgtype": "text",
                                                          "text": {"content": "欢迎"}})["errcode"] == 0


def test_sync_msg_returns_only_the_last_three_days(fake: FakeWeComServer, token: str) -> None:
    open_kfid = add_account(fake, token)
    now = int(time.time())
    written = write(fake, open_kfid, {"external_userid": "wmC", "text": "四天前", "send_time": now - 4 * 86400},
                    {"external_userid": "wmC", "text": "两天前", "send_time": now - 2 * 86400})
    page = api(fake, "kf/sync_msg", token, json={"open_kfid": open_kfid})
    assert [m["msgid"] for m in page["msg_list"]] == written["msgids"][1:]


@pytest.mark.parametrize("body", [
    {"corpid": CORPID, "open_kfid": "wkNone", "messages": [{"external_userid": "wmC", "text": "x"}]},
    {"corpid": CORPID, "open_kfid": "wk", "messages": []},
    {"corpid": CORPID, "open_kfid": "wk", "messages": [{"text": "x"}]},
    {"open_kfid": "wk", "messages": [{"external_userid": "wmC", "text": "x"}]},
])
def test_bad_control_requests_are_400(fake: FakeWeComServer, body: dict[str, Any]) -> None:
    assert requests.post(f"{fake.url}/fake/kf/messages", json=body, timeout=5).status_code == 400
    assert requests.post(f"{fake.url}/fake/kf/paging", json={"page_size": 0}, timeout=5).status_code == 400
