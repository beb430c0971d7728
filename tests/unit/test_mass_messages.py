"""Mass messages (群发, issue 16 item 3): a 10,000-customer audience becomes add_msg_template calls within
WeCom's limits as the fake WeCom records them over HTTP, one sender per customer, the monthly cap excluding
and reporting customers, results collected through the paged result APIs, reminders, drafts, schedules
(exactly once), cancels before and after sending, group messages, and bad input refused with nothing
written."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from mass_support import add_customers, add_staff, add_tags, fake_control
from models import AuditLog, CustomerGroup, MassMessage, MassRecipient
from models.db import utcnow
from support import CORP_ID

ADD = "externalcontact/add_msg_template"
LINK = {"msgtype": "link", "link": {"title": "双十一", "url": "https://example.com/sale"}}


@pytest.fixture
def admin(make_token, runtime) -> dict[str, str]:  # type: ignore[no-untyped-def]
    add_staff(runtime, CORP_ID, ["zhangsan", "lisi", "wangwu"])
    return make_token("admin")


def _cap_history(runtime: Any, customer_id: int, n: int, at: dt.datetime) -> None:
    """`n` earlier mass messages received by a customer at `at`."""
    with runtime.WriteSession.begin() as s:
        old = MassMessage(corp_id=CORP_ID, app_pk=1, status="sent", text="old")
        s.add(old)
        s.flush()
        s.add_all([MassRecipient(message_id=old.id, corp_id=CORP_ID, customer_id=customer_id, target="x",
                                 sender="zhangsan", status="sent", at=at) for _ in range(n)])


def _send(client, admin, **body: Any) -> Any:  # type: ignore[no-untyped-def]
    return client.post("/api/v1/mass-messages", headers=admin, json={"text": "双十一活动开始啦", **body})


def test_10000_customers_become_calls_within_limits_one_sender_each(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    tags = add_tags(runtime, CORP_ID, ["vip", "blocked"])
    rows = [(f"wm{i:05d}", "zhangsan", ["zhangsan", "lisi"] if i < 200 else ["zhangsan"], [tags["vip"]])
            for i in range(10_002)]
    rows += [("wmexcluded", "zhangsan", ["zhangsan"], [tags["vip"], tags["blocked"]]),
             ("wmleft", "wangwu", ["lisi"], [tags["vip"]]),  # wangwu no longer follows: lisi sends
             ("wmother", "zhangsan", ["zhangsan"], [])]  # not tagged vip: not in the audience
    ids = add_customers(runtime, CORP_ID, rows)
    _cap_history(runtime, ids["wm00007"], 4, utcnow() - dt.timedelta(minutes=5))
    _cap_history(runtime, ids["wm00008"], 4, utcnow() - dt.timedelta(days=40))  # last month: not counted
    audience = {"include": {"tags_any": [tags["vip"]]}, "exclude": {"tags_all": [tags["blocked"]]}}

    preview = client.post("/api/v1/mass-messages/preview", headers=admin, json={"audience": audience}).get_json()
    assert preview == {"corp_id": CORP_ID, "target": 10_002, "capped": 1, "no_sender": 0, "monthly_cap": 4,
                       "by_sender": [{"sender": "lisi", "count": 1}, {"sender": "zhangsan", "count": 10_001}]}
    assert fake_wecom.calls(ADD) == []  # a preview calls nobody

    r = _send(client, admin, audience=audience, attachments=[LINK])
    assert r.status_code == 201, r.get_json()
    calls = fake_wecom.calls(ADD)
    assert [(c["body"]["sender"], len(c["body"]["external_userid"])) for c in calls] == \
        [("lisi", 1), ("zhangsan", 10_000), ("zhangsan", 1)]
    assert all(c["errcode"] == 0 and c["body"]["chat_type"] == "single" and len(c["body"]["attachments"]) <= 9
               and c["body"]["text"] == {"content": "双十一活动开始啦"} for c in calls)
    sent = [x for c in calls for x in c["body"]["external_userid"]]
    assert len(sent) == len(set(sent)) == 10_002
    assert set(sent) == {f"wm{i:05d}" for i in range(10_002)} - {"wm00007"} | {"wmleft"}
    detail = r.get_json()
    assert detail["status"] == "sent" and detail["target_count"] == 10_002 and detail["capped_count"] == 1
    assert detail["counts"] == {"pending": 10_002, "capped": 1}
    assert {s["sender"]: (s["status"], s["targets"]) for s in detail["senders"]} == \
        {"lisi": ("unsent", 1), "zhangsan": ("unsent", 10_001)}

    # zhangsan confirms in WeCom, one customer no longer a friend; lisi does not send
    fake_control(fake_wecom.url, "confirm", corpid=CORP_ID, sender="zhangsan", not_friend=["wm00003"])
    r = client.post(f"/api/v1/mass-messages/{detail['id']}/results", headers=admin)
    assert r.status_code == 202 and r.get_json()["job"]["state"] == "done", r.get_json()
    assert len(fake_wecom.calls("externalcontact/get_groupmsg_list_v2")) == 1
    pages = fake_wecom.calls("externalcontact/get_groupmsg_send_result")
    assert len(pages) == 12 and all(p["body"]["limit"] == 1000 for p in pages)  # 10 + 1 pages, and lisi's
    detail = client.get(f"/api/v1/mass-messages/{detail['id']}", headers=admin).get_json()
    assert detail["counts"] == {"sent": 10_000, "not_friend": 1, "pending": 1, "capped": 1}
    assert detail["funnel"] == {"target": 10_002, "delivered": 10_000, "read": None, "shared": None}
    assert {s["sender"]: s["status"] for s in detail["senders"]} == {"lisi": "unsent", "zhangsan": "sent"}

    r = client.post(f"/api/v1/mass-messages/{detail['id']}/remind", headers=admin)
    assert r.get_json() == {"reminded": ["lisi"], "refused": {}}
    lisi_msgid = next(s["msgids"][0] for s in detail["senders"] if s["sender"] == "lisi")
    assert [c["body"] for c in fake_wecom.calls("externalcontact/remind_groupmsg_send")] == [{"msgid": lisi_msgid}]


def test_monthly_cap_excludes_and_reports(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, CORP_ID, [(f"wm{i}", "zhangsan", ["zhangsan"], []) for i in range(3)])
    assert client.put("/api/v1/mass-message-settings", headers=admin, json={"monthly_cap": 1}).status_code == 200
    first = _send(client, admin).get_json()
    assert first["target_count"] == 3 and first["capped_count"] == 0
    preview = client.post("/api/v1/mass-messages/preview", headers=admin, json={}).get_json()
    assert (preview["target"], preview["capped"], preview["monthly_cap"]) == (0, 3, 1)
    second = _send(client, admin).get_json()
    assert (second["target_count"], second["capped_count"], second["counts"]) == (0, 3, {"capped": 3})
    assert len(fake_wecom.calls(ADD)) == 1  # only the first message was sent
    assert client.get("/api/v1/mass-message-settings", headers=admin).get_json()["monthly_cap"] == 1


def test_draft_edit_schedule_once_and_cancel(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    from jobs.mass_send import deliver, mass_messages_tick

    add_customers(runtime, CORP_ID, [(f"wm{i}", "zhangsan", ["zhangsan"], []) for i in range(3)])
    draft = _send(client, admin, draft=True).get_json()
    assert draft["status"] == "draft" and draft["send_at"] is None
    later = utcnow() + dt.timedelta(hours=1)
    r = client.put(f"/api/v1/mass-messages/{draft['id']}", headers=admin,
                   json={"text": "改过的", "send_at": later.isoformat()})
    assert r.get_json()["status"] == "scheduled" and r.get_json()["text"] == "改过的"
    assert mass_messages_tick(now=utcnow())["sent"] == 0 and fake_wecom.calls(ADD) == []

    # two workers at the due time: one claims and sends, the other skips
    outcomes: list[str] = []
    workers = [threading.Thread(target=lambda: outcomes.append(deliver(runtime, draft["id"], later)))
               for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(outcomes) == ["sent", "skipped"]
    assert mass_messages_tick(now=later + dt.timedelta(minutes=1))["sent"] == 0
    calls = fake_wecom.calls(ADD)
    assert len(calls) == 1 and calls[0]["body"]["text"] == {"content": "改过的"}
    assert client.put(f"/api/v1/mass-messages/{draft['id']}", headers=admin, json={"text": "x"}).status_code == 409

    # cancelled after sending: WeCom stops the unsent task, and a confirm afterwards sends nothing
    r = client.post(f"/api/v1/mass-messages/{draft['id']}/cancel", headers=admin)
    assert r.get_json()["status"] == "cancelled"
    assert [c["body"]["msgid"] for c in fake_wecom.calls("externalcontact/cancel_groupmsg_send")] == \
        r.get_json()["senders"][0]["msgids"]
    assert fake_control(fake_wecom.url, "confirm", corpid=CORP_ID, sender="zhangsan") == {"sent": 0}

    # cancelled while scheduled: nothing reaches WeCom, ever
    scheduled = _send(client, admin, send_at=later.isoformat()).get_json()
    assert client.post(f"/api/v1/mass-messages/{scheduled['id']}/cancel", headers=admin).status_code == 200
    assert mass_messages_tick(now=later + dt.timedelta(minutes=5))["sent"] == 0
    assert len(fake_wecom.calls(ADD)) == 1
    assert client.post(f"/api/v1/mass-messages/{scheduled['id']}/cancel", headers=admin).status_code == 409


def test_group_message_goes_to_each_owner(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        s.add_all([CustomerGroup(corp_id=CORP_ID, chat_id=f"wr{i}", name=f"群{i}",
                                 owner_userid="zhangsan" if i < 3 else "lisi") for i in range(4)])
        s.add(CustomerGroup(corp_id=CORP_ID, chat_id="wrgone", name="散了", owner_userid="lisi",
                            dismissed_at=utcnow()))
    r = _send(client, admin, chat_type="group")
    assert r.status_code == 201, r.get_json()
    assert sorted((c["body"]["sender"], sorted(c["body"]["chat_id_list"])) for c in fake_wecom.calls(ADD)) == \
        [("lisi", ["wr3"]), ("zhangsan", ["wr0", "wr1", "wr2"])]
    assert all(c["body"]["chat_type"] == "group" for c in fake_wecom.calls(ADD))


@pytest.mark.parametrize("body, field", [
    ({"text": "字" * 301}, "text"),
    ({"attachments": [LINK] * 10}, "attachments"),
    ({"text": "", "attachments": []}, ""),
    ({"attachments": [{"msgtype": "image", "link": LINK["link"]}]}, "attachments"),
    ({"chat_type": "broadcast"}, "chat_type"),
    ({"audience": {"include": {"tags_any": [987654]}}}, "audience"),
    ({"audience": {"segment_id": 5}}, "audience"),
])
def test_bad_input_refused_and_nothing_written(client, admin, runtime, fake_wecom, body, field) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, CORP_ID, [("wm1", "zhangsan", ["zhangsan"], [])])
    r = client.post("/api/v1/mass-messages", headers=admin, json={"text": "hi", **body})
    assert r.status_code == 422, r.get_json()
    assert field in str(r.get_json()["error"].get("fields") or r.get_json()["error"]["message"])
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(MassMessage)) == 0
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action.like("mass%"))) == 0
    assert fake_wecom.calls(ADD) == []


def test_300_characters_and_9_attachments_pass(client, admin, runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_customers(runtime, CORP_ID, [("wm1", "zhangsan", ["zhangsan"], [])])
    r = _send(client, admin, text="字" * 300, attachments=[LINK] * 9)
    assert r.status_code == 201, r.get_json()
    assert len(fake_wecom.calls(ADD)[0]["body"]["attachments"]) == 9


def test_fake_refuses_calls_past_wecom_limits(fake_wecom) -> None:  # type: ignore[no-untyped-def]
    import requests

    from support import SECRET

    token = requests.get(f"{fake_wecom.api_base}gettoken", params={"corpid": CORP_ID, "corpsecret": SECRET},
                         timeout=5).json()["access_token"]

    def add(**body: Any) -> int:
        return requests.post(f"{fake_wecom.api_base}{ADD}", params={"access_token": token},
                             json={"sender": "zhangsan", "text": {"content": "hi"}, **body}, timeout=30).json()["errcode"]

    assert add(external_userid=[f"wm{i}" for i in range(10_001)]) == 40058
    assert add(external_userid=["wm1"], attachments=[LINK] * 10) == 40058
    assert add(external_userid=["wm1"], text={"content": "字" * 1334}) == 45002  # 4,002 bytes
    assert add(chat_type="group", chat_id_list=[f"wr{i}" for i in range(2001)]) == 40058
    assert add(external_userid=[f"wm{i}" for i in range(10_000)]) == 0
