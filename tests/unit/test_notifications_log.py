"""The notifications log (004 §9.13): every app message the service sends staff is logged where it is sent,
with its category and WeCom's answer as the fake WeCom gave it over HTTP (invaliduser, 81013); the manual's
ten template categories, and their built-in wording when the corp has no enabled template."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot_support import Bot
from rules import templates
from unit.test_group_events import make_group, post  # noqa: F401  (fixture)

URL = "/api/v1/notifications"


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin")


def logged(client, headers, **query: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = client.get(URL, query_string=query, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["items"]


def broadcast(client, admin, userids: list[str]) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/broadcasts", json={"name": "盘点", "userids": userids, "msgtype": "text",
                                                "body": {"content": "请盘点"}}, headers=admin)
    assert r.status_code == 202, r.get_json()


def test_a_sensitive_word_alert_is_logged_in_the_built_in_wording(client, admin, sender, crypto,
                                                                   fake_wecom) -> None:
    client.post("/api/v1/sensitive-rules", json={"name": "引流", "words": "微信", "enabled": True}, headers=admin)
    client.put("/api/v1/moderation/settings", json={"alert_userids": ["lisi"]}, headers=admin)
    Bot(sender, crypto).say("加我微信", userid="zhangsan")
    [call] = fake_wecom.calls("message/send")
    content = call["body"]["text"]["content"]
    assert content.startswith("敏感词提醒：") and "zhangsan 与客户" in content and "「微信」（负面）：加我微信" in content
    [row] = logged(client, admin)
    assert (row["category"], row["recipients"], row["status"], row["errcode"], row["msgtype"]) == (
        "sensitive_word", ["lisi"], "sent", None, "text")
    assert row["msgid"] and row["invalid_users"] == [] and row["outbox_id"]


def test_wecoms_answer_is_logged_per_send(client, admin, fake_wecom, make_token) -> None:
    broadcast(client, admin, ["zhangsan", "ghost"])
    broadcast(client, admin, ["ghost"])  # nobody WeCom knows: 81013, the whole message refused
    failed, partial = logged(client, admin)
    assert (partial["status"], partial["recipients"], partial["invalid_users"], partial["category"]) == (
        "partial", ["zhangsan", "ghost"], ["ghost"], "broadcast")
    assert (failed["status"], failed["errcode"], failed["recipients"]) == ("failed", 81013, ["ghost"])
    assert failed["errmsg"]
    assert [r["id"] for r in logged(client, admin, status="failed")] == [failed["id"]]
    assert [r["id"] for r in logged(client, admin, recipient="zhangsan")] == [partial["id"]]
    assert logged(client, admin, category="reminder") == []
    # a member sees what was sent to them, nothing else
    assert [r["id"] for r in logged(client, make_token("member", userid="zhangsan"))] == [partial["id"]]
    assert logged(client, make_token("member", userid="lisi")) == []
    assert client.get(URL, query_string={"category": "nope"}, headers=admin).status_code == 400


def test_the_ten_categories_take_templates_with_their_variables(client, admin) -> None:
    assert len(templates.NOTIFICATIONS) == 10
    for category, spec in templates.NOTIFICATIONS.items():
        body = {"content": " ".join("{{" + v + "}}" for v in spec.variables)}
        r = client.post("/api/v1/message-templates", json={"name": spec.label, "category": category,
                                                           "msgtype": "text", "body": body}, headers=admin)
        assert r.status_code == 201, (category, r.get_json())
        assert r.get_json()["variables"] == list(spec.variables)
    r = client.post("/api/v1/message-templates", json={"name": "x", "category": "group_quit", "msgtype": "text",
                                                       "body": {"content": "{{staff}}"}}, headers=admin)
    assert r.status_code == 422 and "staff" in r.get_json()["error"]["fields"]["body"]


def test_a_group_quit_notice_uses_the_enabled_template_else_the_built_in_wording(  # type: ignore[no-untyped-def]
        post, client, make_token, runtime, fake_wecom) -> None:  # noqa: F811
    root = make_token("super_admin")
    client.patch("/api/v1/settings", json={"notify_owner_on_group_quit": True}, headers=root)
    chat_id = make_group(post)
    post(f"/{chat_id}/members", at=1732000001, members=[{"userid": "wmA", "name": "阿甲"}, {"userid": "wmB"}])
    post(f"/{chat_id}/quit", at=1732000002, userids=["wmA"])
    sent = [c["body"] for c in fake_wecom.calls("message/send")]
    assert [b["text"]["content"] for b in sent] == [f"退群提醒：客户「阿甲」已退出群聊「{_group(runtime)}」。"]
    r = client.post("/api/v1/message-templates", json={
        "name": "退群卡片", "category": "group_quit", "msgtype": "markdown", "enabled": True,
        "body": {"content": "**{{customer}}** 退出了 {{group}}"}}, headers=root)
    assert r.status_code == 201, r.get_json()
    post(f"/{chat_id}/quit", at=1732000003, userids=["wmB"])
    last = fake_wecom.calls("message/send")[-1]["body"]
    assert (last["msgtype"], last["markdown"]["content"]) == ("markdown", f"**wmB** 退出了 {_group(runtime)}")
    rows = logged(client, root, category="group_quit")
    assert [(r["msgtype"], r["status"], r["recipients"]) for r in rows] == [
        ("markdown", "sent", ["zhangsan"]), ("text", "sent", ["zhangsan"])]


def _group(runtime) -> str:  # type: ignore[no-untyped-def]
    from models.groups import CustomerGroup

    with runtime.Session() as s:
        return s.scalar(select(CustomerGroup.name))
