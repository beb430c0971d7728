"""The fake WeCom's hand-over endpoints over real HTTP (wecom/fake/transfers.py): WeCom's shapes, the ≤100
and ≤200-character limits, per-customer errcodes (40100, 40128), results that change through the control
route, the unassigned list's cursor and the groups' daily cap. Helpers from test_fake_server.py."""

from __future__ import annotations

from typing import Any

import requests
from test_fake_server import CORPID, api

from wecom.fake import FakeWeComServer

X = "externalcontact/"


def control(fake: FakeWeComServer, route: str, **body: Any) -> requests.Response:
    return requests.post(f"{fake.url}/fake/{route}", json={"corpid": CORPID, **body}, timeout=5)


def move(fake: FakeWeComServer, token: str, ids: list[str], **fields: Any) -> dict[str, Any]:
    return api(fake, X + "transfer_customer", token, json={"handover_userid": "zhangsan", "takeover_userid": "lisi",
                                                           "external_userid": ids, **fields})


def test_limits_are_40058(fake: FakeWeComServer, token: str) -> None:
    assert move(fake, token, [f"wm{i}" for i in range(101)])["errcode"] == 40058
    assert move(fake, token, ["wm1"], transfer_success_msg="话" * 201)["errcode"] == 40058
    assert move(fake, token, ["wm1"], transfer_success_msg="话" * 200)["customer"] == \
        [{"external_userid": "wm1", "errcode": 0}]
    chats = api(fake, X + "groupchat/transfer", token, json={"chat_id_list": [f"wr{i}" for i in range(101)],
                                                              "new_owner": "lisi"})
    assert chats["errcode"] == 40058


def test_results_change_over_time_and_a_customer_moves_at_most_twice_in_90_days(fake: FakeWeComServer,
                                                                               token: str) -> None:
    assert move(fake, token, ["wm1"])["customer"][0]["errcode"] == 0
    assert move(fake, token, ["wm1"])["customer"][0]["errcode"] == 40100  # still waiting
    result = api(fake, X + "transfer_result", token, json={"handover_userid": "zhangsan", "takeover_userid": "lisi"})
    assert [(c["external_userid"], c["status"]) for c in result["customer"]] == [("wm1", 2)]
    assert control(fake, "transfers/advance", status=1).json()["changed"] == \
        [{"external_userid": "wm1", "takeover_userid": "lisi"}]
    result = api(fake, X + "transfer_result", token, json={"handover_userid": "zhangsan", "takeover_userid": "lisi"})
    assert result["customer"][0]["status"] == 1 and result["next_cursor"] == ""
    back = api(fake, X + "transfer_customer", token, json={"handover_userid": "lisi", "takeover_userid": "zhangsan",
                                                          "external_userid": ["wm1"]})
    assert back["customer"][0]["errcode"] == 0
    control(fake, "transfers/advance", status=1)
    assert move(fake, token, ["wm1"])["customer"][0]["errcode"] == 40128


def test_the_fail_route_gives_the_callback_xml(fake: FakeWeComServer, token: str) -> None:
    move(fake, token, ["wm1"])
    xml = control(fake, "transfers/fail", external_userid="wm1", reason="customer_refused").json()["xml"]
    assert "<ChangeType>transfer_fail</ChangeType>" in xml and "<UserID>lisi</UserID>" in xml
    assert "<FailReason>customer_refused</FailReason>" in xml
    assert control(fake, "transfers/fail", external_userid="wm1", reason="customer_refused").status_code == 400


def test_unassigned_pages_and_the_group_cap(fake: FakeWeComServer, token: str) -> None:
    info = [{"handover_userid": "wangwu", "external_userid": f"wm{i}", "dimission_time": 1} for i in range(3)]
    control(fake, "unassigned", info=info)
    first = api(fake, X + "get_unassigned_list", token, json={"page_size": 2})
    assert len(first["info"]) == 2 and not first["is_last"] and first["next_cursor"] == "2"
    last = api(fake, X + "get_unassigned_list", token, json={"page_size": 2, "cursor": "2"})
    assert last["info"] == info[2:] and last["is_last"]
    moved = 0
    for n in range(4):
        answer = api(fake, X + "groupchat/transfer", token, json={
            "chat_id_list": [f"wr{n}-{i}" for i in range(100)], "new_owner": "lisi", "old_owner": "wangwu"})
        moved += 100 - len(answer["failed_chat_list"])
    assert moved == 300 and {c["errcode"] for c in answer["failed_chat_list"]} == {45009}
    control(fake, "transfers/next_day")
    again = api(fake, X + "groupchat/transfer", token, json={"chat_id_list": ["wrX"], "new_owner": "lisi",
                                                             "old_owner": "wangwu"})
    assert again["failed_chat_list"] == []
