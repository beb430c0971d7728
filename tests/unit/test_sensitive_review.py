"""Reviewing sensitive-word hits (manual 7.3/7.4, issue 17): the alerts as CSV, the messages around a hit, and
hits counted per staff member; messages come in through the app as staff type them (jobs inline)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot_support import Bot
from models.moderation import SensitiveAlert
from test_moderation import rule


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin")


@pytest.fixture
def bot(sender, crypto) -> Bot:  # type: ignore[no-untyped-def]
    return Bot(sender, crypto)


def test_the_messages_around_a_hit_counts_per_member_and_the_csv(client, admin, bot, runtime) -> None:
    rule(client, admin)
    for said in ("早上好", "今天有空吗", "加我微信聊", "好的", "明天见", "返现多少"):
        bot.say(said, userid="zhangsan")
    bot.say("别的会话", userid="lisi")
    bot.say("加微信", userid="lisi")
    with runtime.Session() as s:
        hit = s.scalar(select(SensitiveAlert.id).where(SensitiveAlert.word == "微信",
                                                       SensitiveAlert.userid == "zhangsan"))
    r = client.get(f"/api/v1/sensitive-alerts/{hit}/context", headers=admin, query_string={"before": 2, "after": 1})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["hit"]["content"] == "加我微信聊"
    assert [m["content"] for m in body["before"]] == ["早上好", "今天有空吗"]  # lisi's conversation is not here
    assert [m["content"] for m in body["after"]] == ["好的"]
    assert client.get(f"/api/v1/sensitive-alerts/{hit}/context", headers=admin,
                      query_string={"before": 51}).status_code == 400
    assert client.get("/api/v1/sensitive-alerts/99999/context", headers=admin).status_code == 404

    counts = client.get("/api/v1/sensitive-alerts/by-staff", headers=admin).get_json()["items"]
    assert [(c["userid"], c["alerts"], c["pending"]) for c in counts] == [("zhangsan", 2, 2), ("lisi", 1, 1)]
    assert client.patch(f"/api/v1/sensitive-alerts/{hit}", json={"status": "confirmed"}, headers=admin).status_code \
        == 200
    counts = client.get("/api/v1/sensitive-alerts/by-staff", headers=admin).get_json()["items"]
    assert counts[0]["pending"] == 1

    csv = client.get("/api/v1/sensitive-alerts/export", headers=admin, query_string={"staff": "zhangsan"})
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("时间,敏感词") and len(lines) == 3
    assert any("加我微信聊" in line and "confirmed" in line for line in lines[1:])
