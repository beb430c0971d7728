"""Group channel codes fed by real group events (issue 12: groups and codes together, jobs inline): a customer
who joins through a code's join way (WeCom's `state` on the member, join scene 3) is kept with the code's
state, linked to their customer row, and counted as the code's join; a join that fills the code's only group
turns the code abnormal at once (not at the next periodic check), with one notice to its owner and creator."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from group_code_support import make_code
from group_support import fake_group
from models import Customer, GroupMember


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin", userid="zhangsan", name="adm")


@pytest.fixture
def post(sender, fake_wecom):  # type: ignore[no-untyped-def]
    """Change the group in the fake and post the change_external_chat event it answers, encrypted."""
    def drive(route: str, **body: Any) -> dict[str, Any]:
        out = fake_group(fake_wecom.url, route, callback=False, **body)
        assert sender.post_xml(out["xml"]).status_code == 200
        return out
    return drive


def now() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp())


def test_a_join_through_the_codes_join_way_is_the_codes_join(client, runtime, admin, post, sender) -> None:  # type: ignore[no-untyped-def]
    assert sender.post("change_external_contact/add_external_contact", UserID="zhangsan",
                       ExternalUserID="wmCustomer0001").status_code == 200
    chat_id = post("", owner="zhangsan", name="秋季活动群", at=now() - 60, members=[])["chat_id"]
    code = make_code(client, admin, [chat_id])
    assert code["joins"] == 0
    post(f"/{chat_id}/members", at=now(), members=[{"userid": "wmCustomer0001", "join_scene": 3,
                                                    "state": code["state"]}])
    with runtime.Session() as s:
        member = s.scalar(select(GroupMember).where(GroupMember.member_id == "wmCustomer0001"))
        known = s.scalar(select(Customer.id).where(Customer.external_userid == "wmCustomer0001"))
        assert (member.join_scene, member.join_state, member.customer_id) == (3, code["state"], known)
    shown = client.get(f"/api/v1/group-codes/{code['id']}", headers=admin).get_json()
    assert shown["joins"] == 1
    stats = client.get(f"/api/v1/group-codes/{code['id']}/stats", headers=admin).get_json()
    assert sum(day["joins"] for day in stats["days"]) == 1


def test_a_join_that_fills_the_only_group_turns_the_code_abnormal_at_once(client, admin, post,
                                                                          fake_wecom) -> None:  # type: ignore[no-untyped-def]
    chat_id = post("", owner="zhangsan", name="满员群", at=now() - 60,
                   members=[{"userid": f"wm{n:04d}"} for n in range(198)])["chat_id"]  # 198 + the owner
    code = make_code(client, admin, [chat_id])
    assert code["status"] == "normal"
    post(f"/{chat_id}/members", at=now(), members=[{"userid": "wmLast", "join_scene": 3, "state": code["state"]}])
    assert client.get(f"/api/v1/group-codes/{code['id']}", headers=admin).get_json()["status"] == "abnormal"
    told = [c["body"]["touser"] for c in fake_wecom.calls("message/send")
            if "活码失效通知" in c["body"]["text"]["content"]]
    assert told == ["lisi|zhangsan"]
