"""A group code's WeCom join way (「加入群聊」): add_join_way with the code's state and at most 5 chats, then
get_join_way for its QR; update_join_way and del_join_way; joins attributed to the code by that state. The
calls are read from the fake WeCom over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from group_code_support import add_group_row, make_code
from models import CustomerGroup, GroupJoinWay, GroupMember, MemberType
from models.db import utcnow


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin", userid="zhangsan", name="adm")


@pytest.fixture
def code(client, runtime, admin) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    for n in range(7):
        add_group_row(runtime, f"wr{n}")
    return make_code(client, admin, ["wr0"])


def way_body(chats: list[str], **fields: Any) -> dict[str, Any]:
    return {"scene": 2, "remark": "秋季", "auto_create_room": True, "room_base_name": "秋季活动群", "room_base_id": 10,
            "chat_ids": chats, **fields}


def test_a_join_way_is_made_in_wecom_with_the_codes_state(client, admin, code, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/group-codes/{code['id']}/join-way"
    r = client.put(url, headers=admin, json=way_body(["wr1", "wr2"]))
    assert r.status_code == 202, r.get_json()
    [add] = fake_wecom.calls("externalcontact/groupchat/add_join_way")
    assert add["errcode"] == 0 and add["body"] == {
        "scene": 2, "remark": "秋季", "auto_create_room": 1, "chat_id_list": ["wr1", "wr2"], "state": code["state"],
        "room_base_name": "秋季活动群", "room_base_id": 10}
    [get] = fake_wecom.calls("externalcontact/groupchat/get_join_way")
    way = client.get(url, headers=admin).get_json()
    assert get["body"] == {"config_id": way["config_id"]} and way["qr_code"].startswith("https://")
    assert way["pending"] is False and way["state"] == code["state"] and len(code["state"]) <= 30

    r = client.put(url, headers=admin, json=way_body(["wr3"], auto_create_room=False))
    assert r.status_code == 202 and r.get_json()["chat_ids"] == ["wr3"]
    [update] = fake_wecom.calls("externalcontact/groupchat/update_join_way")
    assert update["errcode"] == 0 and update["body"] == {"config_id": way["config_id"], "scene": 2, "remark": "秋季",
                                                         "auto_create_room": 0, "chat_id_list": ["wr3"],
                                                         "state": code["state"]}
    r = client.delete(url, headers=admin)
    assert r.status_code == 202
    [gone] = fake_wecom.calls("externalcontact/groupchat/del_join_way")
    assert gone["errcode"] == 0 and gone["body"] == {"config_id": way["config_id"]}
    assert client.get(url, headers=admin).status_code == 404
    assert requests_json(fake_wecom, "/fake/join_ways") == {"join_ways": []}


def requests_json(fake_wecom, path: str) -> Any:  # type: ignore[no-untyped-def]
    import requests

    return requests.get(fake_wecom.url + path, timeout=5).json()


def test_a_sixth_chat_an_unknown_chat_or_another_corps_chat_is_refused_before_wecom(
        client, runtime, admin, code, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_group_row(runtime, "wrOther", corp="wwothercorp00001")
    url = f"/api/v1/group-codes/{code['id']}/join-way"
    cases = [(way_body([f"wr{n}" for n in range(6)]), "chat_ids"), (way_body(["wr1", "wrNobody"]), "chat_ids"),
             (way_body(["wrOther"]), "chat_ids"), (way_body(["wr1", "wr1"]), "chat_ids"),
             (way_body(["wr1"], room_base_name=""), "room_base_name"), (way_body(["wr1"], scene=3), "scene"),
             (way_body(["wr1"], remark="长" * 31), "remark")]
    for body, field in cases:
        r = client.put(url, headers=admin, json=body)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], (field, r.get_json())
    assert fake_wecom.calls("externalcontact/groupchat/add_join_way") == []
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(GroupJoinWay)) == 0
    r = client.put(url, headers=admin, json=way_body([f"wr{n}" for n in range(5)]))  # five is WeCom's most
    assert r.status_code == 202 and len(fake_wecom.calls("externalcontact/groupchat/add_join_way")) == 1


def test_joins_through_the_join_way_are_counted_for_the_code(client, runtime, admin, code) -> None:  # type: ignore[no-untyped-def]
    """A member's groupchat/get `state` (GroupMember.join_state, written by the group sync) names the code."""
    with runtime.WriteSession.begin() as s:
        group_id = s.scalar(select(CustomerGroup.id).where(CustomerGroup.chat_id == "wr1"))
        now = utcnow()
        for n, state in enumerate([code["state"], code["state"], "gc-other", ""]):
            s.add(GroupMember(group_id=group_id, corp_id=code["corp_id"], member_id=f"wm{n}",
                              member_type=MemberType.external.value, join_scene=3, join_state=state,
                              joined_at=now - dt.timedelta(days=n), open_key=f"wm{n}"))
    assert client.get(f"/api/v1/group-codes/{code['id']}", headers=admin).get_json()["joins"] == 2
    stats = client.get(f"/api/v1/group-codes/{code['id']}/stats", headers=admin, query_string={"days": 7}).get_json()
    assert stats["joins"] == 2 and [d["joins"] for d in stats["days"][-2:]] == [1, 1]
