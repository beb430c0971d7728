"""微信客服 rules of issue 17 at their edges: WeCom's 5 API messages per customer message within 48 h,
enforced before sending (the sixth is refused here with the reason and never reaches the fake WeCom);
receptionists chosen by department; the avatar uploaded through media/upload (jpg/png ≤ 2 MB, 2 MB + 1 byte
refused here), and the fake's media_id dying after three days."""

from __future__ import annotations

import datetime as dt
import io
import time
import uuid

import pytest
import requests
import segno
from customer_world import all_rows
from kf_support import text
from sqlalchemy import func, select, update

from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox
from models import DeadLetter, KfAccount, KfSession, Message, Outbox
from models.db import utcnow
from rules.kf import reply_refusal
from support import CORP_ID, SECRET
from transfer_support import build as build_org
from test_kf_flow import account, admin, bodies, deliver, kf  # noqa: F401  (fixtures)
from test_kf_protocol import knowledge  # noqa: F401  (a fixture)
from wecom.client import WeComClient, WeComError


def send_bot_texts(runtime, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    """`n` more bot messages to the session's customer, each its own kf_send_text run inline."""
    rows = []
    with runtime.WriteSession.begin() as s:
        session = s.scalar(select(KfSession))
        account = session.open_kfid
        app_pk = s.scalar(select(KfAccount.app_pk).where(KfAccount.open_kfid == account))
        ctx = HandlerContext(session=s, corp_id=CORP_ID, app_pk=app_pk)
        for i in range(n):
            msgid = uuid.uuid4().hex
            rows.append(ctx.outbox("kf_send_text", {"app_pk": app_pk, "session_pk": session.id, "open_kfid": account,
                                                    "external_userid": session.external_userid,
                                                    "content": f"补充说明 {i}", "msgid": msgid}, key=f"t:{msgid}"))
        pending = [(row.id, row.queue) for row in rows]
    for one in pending:  # one after the other, as a customer would see them
        enqueue_outbox([one])
    return [outbox_id for outbox_id, _ in pending]


def test_a_sixth_message_within_48_hours_is_refused_here_with_the_reason(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge) -> None:  # noqa: F811
    deliver(sender, kf, account["open_kfid"], text("wmA", "请问如何退货？"))  # the bot answers: 1
    assert len(bodies(fake_wecom, "kf/send_msg")) == 1
    ids = send_bot_texts(runtime, 5)  # 2..5 go, the sixth may not
    assert len(fake_wecom.calls("kf/send_msg")) == 5  # the sixth never reached WeCom (no 95001 there)
    assert all(call["errcode"] == 0 for call in fake_wecom.calls("kf/send_msg"))
    with runtime.Session() as s:
        statuses = [s.get_one(Outbox, pk).status for pk in ids]
        assert statuses == ["done"] * 4 + ["failed"]
        assert "at most 5 per customer message within 48 h" in (s.get_one(Outbox, ids[-1]).error or "")
        assert "95001" in s.scalar(select(DeadLetter.error))
        assert s.scalar(select(func.count()).select_from(Message).where(Message.origin == "bot")) == 5

    # the customer writes again (WeCom's send_time is in whole seconds, and a bot message in the same second
    # counts as after it, so the budget is never overrun): our rule lets the next one go to WeCom again
    time.sleep(1.1)
    deliver(sender, kf, account["open_kfid"], text("wmA", "还有一个问题"))
    sent_before = len(fake_wecom.calls("kf/send_msg"))
    [pk] = send_bot_texts(runtime, 1)
    assert len(fake_wecom.calls("kf/send_msg")) == sent_before + 1
    with runtime.Session() as s:
        assert "48 h" not in (s.get_one(Outbox, pk).error or "")


def test_a_message_48_hours_after_the_customers_last_is_refused(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge) -> None:  # noqa: F811
    deliver(sender, kf, account["open_kfid"], text("wmA", "请问如何退货？"))
    with runtime.WriteSession.begin() as s:
        s.execute(update(Message).where(Message.origin == "customer")
                  .values(send_time=utcnow() - dt.timedelta(hours=48, seconds=1)))
    [pk] = send_bot_texts(runtime, 1)
    assert len(fake_wecom.calls("kf/send_msg")) == 1
    with runtime.Session() as s:
        assert "over 48 h old" in (s.get_one(Outbox, pk).error or "")


def test_reply_refusal_edges() -> None:
    now = utcnow()
    assert reply_refusal(now - dt.timedelta(hours=47, minutes=59), 4, now) is None
    assert "at most 5" in (reply_refusal(now, 5, now) or "")
    assert "48 h" in (reply_refusal(now - dt.timedelta(hours=48), 0, now) or "")
    assert "not written" in (reply_refusal(None, 0, now) or "")


def test_receptionists_chosen_by_department_are_its_active_members_and_those_below(  # type: ignore[no-untyped-def]
        client, admin, account, fake_wecom, runtime) -> None:  # noqa: F811
    build_org(runtime)  # 总部 1 > 销售部 2 > 华东组 3; wangwu of 2 has resigned
    url = f"/api/v1/kf/accounts/{account['id']}/servicers"
    for body in ({"departments": [99]}, {}, {"userids": [], "departments": []}):
        assert client.post(url, json=body, headers=admin).status_code == 422, body
    assert fake_wecom.calls("kf/servicer/add") == []
    r = client.post(url, json={"departments": [2]}, headers=admin)
    assert r.status_code == 202, r.get_json()
    [call] = fake_wecom.calls("kf/servicer/add")
    assert sorted(call["body"]["userid_list"]) == ["qianba", "zhaoliu"]  # zhangsan and lisi receive already
    assert {s["userid"] for s in r.get_json()["servicers"]} == {"zhangsan", "lisi", "qianba", "zhaoliu"}


JPG = b"\xff\xd8\xff\xe0" + b"\0" * 16


def upload_avatar(client, headers, account_pk: int, data: bytes, name: str = "me.jpg"):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/kf/accounts/{account_pk}/avatar", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), name, "image/jpeg")})


def test_an_avatar_of_2_mb_goes_through_media_upload_and_one_byte_more_is_refused(  # type: ignore[no-untyped-def]
        client, admin, account, fake_wecom, runtime) -> None:  # noqa: F811
    before = all_rows(runtime)
    r = upload_avatar(client, admin, account["id"], JPG + b"\0" * (2 * 1024 * 1024 + 1 - len(JPG)))
    assert r.status_code == 422 and "2 MB" in r.get_json()["error"]["message"]
    r = upload_avatar(client, admin, account["id"], b"GIF89a" + b"\0" * 100, "me.gif")
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"file": "a JPG or PNG image"}
    assert all_rows(runtime) == before
    assert fake_wecom.calls("media/upload") == [] and fake_wecom.calls("kf/account/update") == []

    r = upload_avatar(client, admin, account["id"], JPG + b"\0" * (2 * 1024 * 1024 - len(JPG)))
    assert r.status_code == 202, r.get_json()
    [upload] = fake_wecom.calls("media/upload")
    assert upload["query"]["type"] == "image" and upload["errcode"] == 0
    [media] = requests.get(f"{fake_wecom.url}/fake/media", timeout=5).json()["media"]
    assert media["size"] == 2 * 1024 * 1024
    [update_call] = fake_wecom.calls("kf/account/update")
    assert update_call["body"] == {"open_kfid": account["open_kfid"], "media_id": media["media_id"]}
    assert client.get("/api/v1/kf/accounts", headers=admin).get_json()["items"][0]["media_id"] == media["media_id"]


def test_the_fake_refuses_a_media_id_past_its_three_days(client, admin, account, fake_wecom) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert upload_avatar(client, admin, account["id"], JPG).status_code == 202
    [media] = requests.get(f"{fake_wecom.url}/fake/media", timeout=5).json()["media"]
    requests.post(f"{fake_wecom.url}/fake/media/age", json={"seconds": 3 * 24 * 3600}, timeout=5)
    wecom = WeComClient(CORP_ID, SECRET, fake_wecom.api_base)
    with pytest.raises(WeComError) as refused:
        wecom.post("kf/account/update", data={"open_kfid": account["open_kfid"], "media_id": media["media_id"]})
    assert refused.value.errcode == 40007


def test_a_scene_links_qr_code_is_a_png_of_its_link(client, admin, account) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    r = client.post(f"/api/v1/kf/accounts/{account['id']}/scenes", json={"name": "官网", "scene": "web_home"},
                    headers=admin)
    url = r.get_json()["scenes"][0]["url"]
    qr = client.get(f"/api/v1/kf/accounts/{account['id']}/scene-qr.png", headers=admin,
                    query_string={"scene": "web_home", "scale": 4})
    assert qr.status_code == 200 and qr.mimetype == "image/png" and qr.data.startswith(b"\x89PNG\r\n\x1a\n")
    expected = io.BytesIO()
    segno.make(url, error="m").save(expected, kind="png", scale=4, border=2)
    assert qr.data == expected.getvalue()  # the QR of the link WeCom gave the scene
    assert client.get(f"/api/v1/kf/accounts/{account['id']}/scene-qr.png", headers=admin,
                      query_string={"scene": "nope"}).status_code == 404
    assert client.get(f"/api/v1/kf/accounts/{account['id']}/scene-qr.png", headers=admin,
                      query_string={"scene": "web_home", "scale": 0}).status_code == 400
