"""Message templates and staff broadcasts through the admin API, jobs inline, delivered by the fake WeCom's
message/send (which refuses unknown users and departments the way WeCom does)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot_support import Bot
from models import AuditLog, Outbox
from models.moderation import Broadcast, MessageTemplate
from support import AGENT_ID, MISSING_ID

NOTICE = {"name": "双11通知", "category": "broadcast", "msgtype": "markdown", "variables": ["name", "date"],
          "body": {"content": "**{{name}}**：请于 {{ date }} 前完成盘点"}, "enabled": True}


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin")


def create(client, admin, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/message-templates", json={**NOTICE, **fields}, headers=admin)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def broadcast(client, admin, **fields: Any) -> Any:  # type: ignore[no-untyped-def]
    return client.post("/api/v1/broadcasts", json={"name": "盘点", **fields}, headers=admin)


def sends(fake_wecom) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return fake_wecom.calls("message/send")


def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(model))


# -- templates -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "field"), [
    ({"body": {"content": "{{name}} {{shop}}"}}, "body"),  # {{shop}} is not declared
    ({"variables": ["name", "name"]}, "variables"),
    ({"msgtype": "image"}, "msgtype"),
    ({"category": "sensitive_word", "variables": ["name"]}, "variables"),
    ({"category": "sensitive_word", "body": {"content": "{{name}}"}, "variables": None}, "body"),
    ({"name": ""}, "name"),
    ({"enabled": "yes"}, "enabled"),
    ({"colour": "red"}, "colour"),
])
def test_bad_templates_are_refused_and_nothing_is_stored(client, admin, runtime, fields, field: str) -> None:  # type: ignore[no-untyped-def]
    body = {k: v for k, v in {**NOTICE, **fields}.items() if v is not None}
    r = client.post("/api/v1/message-templates", json=body, headers=admin)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()
    assert count(runtime, MessageTemplate) == 0 and count(runtime, AuditLog) == 0


def test_an_enabled_template_is_read_only_until_disabled(client, admin) -> None:  # type: ignore[no-untyped-def]
    tid = create(client, admin)["id"]
    r = client.patch(f"/api/v1/message-templates/{tid}", json={"name": "改名"}, headers=admin)
    assert r.status_code == 409
    assert client.delete(f"/api/v1/message-templates/{tid}", headers=admin).status_code == 409
    assert client.patch(f"/api/v1/message-templates/{tid}", json={"enabled": False}, headers=admin).status_code == 200
    r = client.patch(f"/api/v1/message-templates/{tid}", json={"body": {"content": "{{name}} 您好 {{who}}"}},
                     headers=admin)
    assert r.status_code == 422  # still checked against its variables
    r = client.patch(f"/api/v1/message-templates/{tid}", json={"name": "改名", "variables": ["name"],
                                                                 "body": {"content": "{{name}} 您好"}}, headers=admin)
    assert r.status_code == 200 and (r.get_json()["name"], r.get_json()["variables"]) == ("改名", ["name"])
    assert client.delete(f"/api/v1/message-templates/{tid}", headers=admin).status_code == 200
    assert client.get("/api/v1/message-templates", headers=admin).get_json()["items"] == []


def test_a_notification_category_takes_three_templates(client, admin) -> None:  # type: ignore[no-untyped-def]
    alert = {"category": "sensitive_word", "variables": None, "enabled": False,
             "body": {"content": "{{staff}} 说了 {{words}}"}}
    for i in range(3):
        assert create(client, admin, name=f"预警{i}", **alert)["variables"] == [
            "staff", "customer", "words", "category", "content", "time"]
    body = {k: v for k, v in {**NOTICE, **alert, "name": "预警3"}.items() if v is not None}
    r = client.post("/api/v1/message-templates", json=body, headers=admin)
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"category": "at most 3 templates per category"}
    listed = client.get("/api/v1/message-templates?category=sensitive_word", headers=admin).get_json()
    assert listed["total"] == 3
    assert client.get("/api/v1/message-templates?category=nope", headers=admin).status_code == 400


def test_an_enabled_alert_template_words_the_alert(client, admin, sender, crypto, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    create(client, admin, name="敏感词卡片", category="sensitive_word", msgtype="textcard", variables=None, body={
        "title": "敏感词：{{words}}", "description": "{{staff}}（{{category}}）：{{content}}",
        "url": "https://scrm.example.invalid/alerts", "btntxt": "查看"})
    client.post("/api/v1/sensitive-rules", json={"name": "引流", "words": "微信", "enabled": True}, headers=admin)
    client.put("/api/v1/moderation/settings", json={"alert_userids": ["lisi"]}, headers=admin)
    Bot(sender, crypto).say("加我微信", userid="zhangsan")
    [call] = sends(fake_wecom)
    assert call["body"]["msgtype"] == "textcard" and call["body"]["textcard"] == {
        "title": "敏感词：微信", "description": "zhangsan（负面）：加我微信",
        "url": "https://scrm.example.invalid/alerts", "btntxt": "查看"}


def test_templates_need_an_admin(client, make_token) -> None:  # type: ignore[no-untyped-def]
    member = make_token("member", userid="zhangsan")
    assert client.get("/api/v1/message-templates", headers=member).status_code == 403
    assert broadcast(client, member, userids=["zhangsan"], msgtype="text", body={"content": "x"}).status_code == 403


# -- broadcasts ----------------------------------------------------------------------------------------------

def test_a_broadcast_renders_sends_and_stores_the_invalid_user(client, admin, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    tid = create(client, admin)["id"]
    r = broadcast(client, admin, template_id=tid, values={"name": "各位店长", "date": "11月10日"},
                  userids=["zhangsan", "ghost"])
    assert r.status_code == 202, r.get_json()
    [call] = sends(fake_wecom)
    assert call["errcode"] == 0 and call["body"] == {
        "touser": "zhangsan|ghost", "msgtype": "markdown", "agentid": AGENT_ID,
        "markdown": {"content": "**各位店长**：请于 11月10日 前完成盘点"},
        "enable_duplicate_check": 1, "duplicate_check_interval": 1800}
    got = client.get(f"/api/v1/broadcasts/{r.get_json()['id']}", headers=admin).get_json()
    assert (got["status"], got["invalid_users"], got["invalid_parties"], got["error"]) == ("sent", ["ghost"], [], None)
    assert got["msgid"] and got["sent_at"] and got["values"] == {"name": "各位店长", "date": "11月10日"}
    assert [b["id"] for b in client.get("/api/v1/broadcasts?status=sent", headers=admin).get_json()["items"]] == [
        got["id"]]


def test_a_broadcast_to_departments_with_inline_content(client, admin, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    card = {"title": "系统升级", "description": "今晚 22:00 停机", "url": "https://example.invalid/notice"}
    r = broadcast(client, admin, departments=[1, 99], msgtype="textcard", body=card)
    assert r.status_code == 202
    [call] = sends(fake_wecom)
    assert (call["body"]["toparty"], call["body"]["textcard"]) == ("1|99", card)
    got = client.get(f"/api/v1/broadcasts/{r.get_json()['id']}", headers=admin).get_json()
    assert (got["status"], got["invalid_parties"]) == ("sent", [99])


def test_a_broadcast_nobody_can_receive_is_marked_failed(client, admin, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    r = broadcast(client, admin, userids=["ghost"], msgtype="text", body={"content": "你好"})
    assert r.status_code == 202
    got = client.get(f"/api/v1/broadcasts/{r.get_json()['id']}", headers=admin).get_json()
    assert got["status"] == "failed" and got["error"].startswith("errcode 81013")


@pytest.mark.parametrize(("fields", "field"), [
    ({"values": {"name": "各位"}}, "values"),  # date missing
    ({"values": {"name": "a", "date": "b", "shop": "c"}}, "values"),  # unknown variable
    ({"values": {"name": "a", "date": "b"}, "userids": []}, "userids"),  # nobody
    ({"values": {"name": "a", "date": "b"}, "userids": "zhangsan"}, "userids"),
    ({"values": {"name": "a", "date": "b"}, "departments": ["1"]}, "departments"),
    ({"values": {"name": "a", "date": "b"}, "name": ""}, "name"),
    ({"template_id": MISSING_ID, "values": {}}, "template_id"),
    ({"template_id": None, "msgtype": "text", "body": {"content": "{{name}}"}}, "body"),  # no variables inline
    ({"template_id": None, "msgtype": "text", "body": {"content": "字" * 700}}, "body.content"),  # > 2048 bytes
])
def test_bad_broadcasts_are_refused_and_nothing_is_sent(client, admin, runtime, fake_wecom, fields, field) -> None:  # type: ignore[no-untyped-def]
    tid = create(client, admin)["id"]
    body = {"userids": ["zhangsan"], "template_id": tid, **fields}
    body = {k: v for k, v in body.items() if v is not None}
    r = broadcast(client, admin, **body)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()
    assert count(runtime, Broadcast) == 0 and count(runtime, Outbox) == 0 and sends(fake_wecom) == []


def test_a_disabled_template_cannot_be_broadcast(client, admin, runtime) -> None:  # type: ignore[no-untyped-def]
    tid = create(client, admin, enabled=False)["id"]
    r = broadcast(client, admin, template_id=tid, values={"name": "a", "date": "b"}, userids=["zhangsan"])
    assert r.status_code == 422 and count(runtime, Broadcast) == 0
