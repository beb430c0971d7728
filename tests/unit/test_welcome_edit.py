"""Welcome messages (manual 3.3, issue 17): edited in place, and carrying a group code's QR code (its join
way's, groupchat/add_join_way) to the customer in send_welcome_msg, as an image or a link; read from the
fake WeCom over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from contact_support import ADD, issue_welcome_code, welcomes
from customer_world import all_rows
from group_code_support import add_group_row, make_code
from models import AuditLog, WelcomeMessage
from test_contact_flow import team  # noqa: F401  (a fixture: the sales team in the fake WeCom)


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin", userid="zhangsan", name="adm")


@pytest.fixture
def group_code(client, runtime, admin) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A group code with its QR join way made in the fake WeCom."""
    add_group_row(runtime, "wr0")
    code = make_code(client, admin, ["wr0"])
    r = client.put(f"/api/v1/group-codes/{code['id']}/join-way", headers=admin,
                   json={"scene": 2, "remark": "秋季", "auto_create_room": False, "chat_ids": ["wr0"]})
    assert r.status_code == 202, r.get_json()
    way = client.get(f"/api/v1/group-codes/{code['id']}/join-way", headers=admin).get_json()
    assert way["qr_code"].startswith("https://")
    return {**code, "qr_code": way["qr_code"]}


def welcome(client, admin, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/welcome-messages", json=body, headers=admin)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def customer_adds(sender, team) -> dict[str, Any]:  # type: ignore[no-untyped-def]  # noqa: F811
    code = issue_welcome_code(team, "zhangsan", "wmCustomer0001")
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code)
    [sent] = welcomes(team)
    return sent


def test_a_welcome_carries_the_group_codes_qr_as_an_image(sender, client, team, admin, group_code) -> None:  # noqa: F811
    welcome(client, admin, text="欢迎，扫码进群", group_code_id=group_code["id"])
    sent = customer_adds(sender, team)
    assert sent["text"] == {"content": "欢迎，扫码进群"}
    assert sent["attachments"] == [{"msgtype": "image", "image": {"pic_url": group_code["qr_code"]}}]


def test_edit_a_welcome_to_send_the_qr_as_a_link(sender, client, runtime, team, admin, group_code) -> None:  # noqa: F811
    row = welcome(client, admin, text="欢迎")
    r = client.patch(f"/api/v1/welcome-messages/{row['id']}", headers=admin,
                     json={"text": "新欢迎语", "group_code_id": group_code["id"], "group_qr_as": "link"})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["text"], r.get_json()["group_code_id"]) == ("新欢迎语", group_code["id"])
    sent = customer_adds(sender, team)
    assert sent["text"] == {"content": "新欢迎语"}
    [link] = sent["attachments"]
    assert link["msgtype"] == "link" and link["link"]["url"] == group_code["qr_code"]
    with runtime.Session() as s:
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "welcome.update")) == "welcome.update"
        assert s.get_one(WelcomeMessage, row["id"]).text == "新欢迎语"


def test_a_group_code_without_a_qr_join_way_is_refused_and_nothing_changes(client, runtime, team, admin) -> None:  # noqa: F811
    add_group_row(runtime, "wr9")
    bare = make_code(client, admin, ["wr9"])
    row = welcome(client, admin, text="欢迎")
    before = all_rows(runtime)
    for body in ({"group_code_id": bare["id"]}, {"group_code_id": 99999}, {"text": ""}, {"start_minute": 60},
                 {"material_ids": [99999]}, {}):
        r = client.patch(f"/api/v1/welcome-messages/{row['id']}", headers=admin, json=body)
        assert r.status_code == 422, (body, r.get_json())
    r = client.post("/api/v1/welcome-messages", headers=admin, json={"text": "x", "group_code_id": bare["id"]})
    assert r.status_code == 422 and "group_code_id" in r.get_json()["error"]["fields"]
    assert all_rows(runtime) == before


def test_a_codes_own_welcome_is_not_edited_here(client, runtime, admin, make_token) -> None:
    with runtime.WriteSession.begin() as s:
        row = WelcomeMessage(corp_id="wwcorp", scope="code", text="x")
        s.add(row)
        s.flush()
        pk = row.id
    assert client.patch(f"/api/v1/welcome-messages/{pk}", headers=admin, json={"text": "y"}).status_code == 404
