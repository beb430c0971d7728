"""The fake WeCom's join ways (groupchat/*_join_way) and group welcome templates (group_welcome_template/*)
over real HTTP: WeCom's shapes, limits and errcodes. Helpers from test_fake_server.py."""

from __future__ import annotations

from typing import Any

import pytest
from test_fake_server import api

from wecom.fake import FakeWeComServer

JOIN = "externalcontact/groupchat/"
TEMPLATE = "externalcontact/group_welcome_template/"


def way(**fields: Any) -> dict[str, Any]:
    return {"scene": 2, "remark": "r", "auto_create_room": 1, "room_base_name": "群", "room_base_id": 1,
            "chat_id_list": ["wrA", "wrB"], "state": "gc-1", **fields}


def test_a_join_way_is_made_read_changed_and_deleted(fake: FakeWeComServer, token: str) -> None:
    made = api(fake, JOIN + "add_join_way", token, json=way(remark="备" * 40))
    assert made["errcode"] == 0 and made["config_id"]
    got = api(fake, JOIN + "get_join_way", token, json={"config_id": made["config_id"]})
    assert got["join_way"]["state"] == "gc-1" and got["join_way"]["chat_id_list"] == ["wrA", "wrB"]
    assert got["join_way"]["remark"] == "备" * 30 and got["join_way"]["qr_code"]  # a long remark is cut, as WeCom does
    assert api(fake, JOIN + "update_join_way", token, json={"config_id": made["config_id"], **way(chat_id_list=["wrC"])}
               )["errcode"] == 0
    assert api(fake, JOIN + "get_join_way", token, json={"config_id": made["config_id"]})["join_way"]["chat_id_list"] == ["wrC"]
    assert api(fake, JOIN + "del_join_way", token, json={"config_id": made["config_id"]})["errcode"] == 0
    assert api(fake, JOIN + "get_join_way", token, json={"config_id": made["config_id"]})["errcode"] == 41044


@pytest.mark.parametrize(("fields", "errcode"), [
    ({"chat_id_list": [f"wr{n}" for n in range(6)]}, 40058), ({"chat_id_list": []}, 40058),
    ({"state": "s" * 31}, 40058), ({"scene": 3}, 41040), ({"room_base_name": "名" * 41}, 40058),
])
def test_join_way_limits(fake: FakeWeComServer, token: str, fields: dict[str, Any], errcode: int) -> None:
    assert api(fake, JOIN + "add_join_way", token, json=way(**fields))["errcode"] == errcode
    assert api(fake, JOIN + "update_join_way", token, json={"config_id": "nope", **way()})["errcode"] == 41044
    assert api(fake, JOIN + "del_join_way", token, json={})["errcode"] == 41043


def test_a_template_is_added_read_edited_and_deleted(fake: FakeWeComServer, token: str) -> None:
    body = {"text": {"content": "欢迎%NICKNAME%"}, "link": {"title": "t", "url": "https://x"}, "notify": 0}
    made = api(fake, TEMPLATE + "add", token, json=body)
    assert made["errcode"] == 0 and made["template_id"]
    got = api(fake, TEMPLATE + "get", token, json={"template_id": made["template_id"]})
    assert got["text"] == {"content": "欢迎%NICKNAME%"} and got["link"]["title"] == "t" and "notify" not in got
    assert api(fake, TEMPLATE + "edit", token, json={"template_id": made["template_id"],
                                                    "image": {"media_id": "M"}})["errcode"] == 0
    got = api(fake, TEMPLATE + "get", token, json={"template_id": made["template_id"]})
    assert got["image"] == {"media_id": "M"} and "text" not in got
    assert api(fake, TEMPLATE + "del", token, json={"template_id": made["template_id"]})["errcode"] == 0
    assert api(fake, TEMPLATE + "get", token, json={"template_id": made["template_id"]})["errcode"] == 40058


@pytest.mark.parametrize(("body", "errcode"), [
    ({}, 44004), ({"text": {"content": "中" * 1001}}, 40058), ({"link": {"title": "t"}}, 40058),
    ({"link": {"title": "标" * 43, "url": "https://x"}}, 40058), ({"image": {}}, 40058),
    ({"miniprogram": {"title": "小" * 22, "appid": "a", "page": "/p", "pic_media_id": "M"}}, 40058),
    ({"text": {"content": "x"}, "notify": 2}, 40058), ({"text": "x"}, 47001),
])
def test_template_limits(fake: FakeWeComServer, token: str, body: dict[str, Any], errcode: int) -> None:
    assert api(fake, TEMPLATE + "add", token, json=body)["errcode"] == errcode


def test_a_corp_holds_100_templates(fake: FakeWeComServer, token: str) -> None:
    for n in range(100):
        assert api(fake, TEMPLATE + "add", token, json={"text": {"content": str(n)}})["errcode"] == 0
    assert api(fake, TEMPLATE + "add", token, json={"text": {"content": "101st"}})["errcode"] == 40058
