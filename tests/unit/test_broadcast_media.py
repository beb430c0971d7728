"""Staff broadcasts (员工消息下发, manual 9.5; issue 17) of an image, voice, video or file uploaded with the
broadcast and of a mini-program notice: each reaches the fake WeCom's message/send with its msgtype and a
media_id the fake's media/upload issued (WeCom's limits: image ≤10 MB JPG/PNG, voice ≤2 MB AMR, video ≤10 MB
MP4, file ≤20 MB); past them a 422 that stores and sends nothing; a scheduled one waits for the cron job."""

from __future__ import annotations

import datetime as dt
import io
import os
from typing import Any

import pytest
import requests
from customer_world import all_rows
from sqlalchemy import update

from jobs.broadcasts import send_due_broadcasts
from models.db import utcnow
from models.moderation import Broadcast
from test_templates import broadcast, sends

MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
MP4 = b"\0\0\0\x18ftypmp42" + b"\0" * 64
AMR = b"#!AMR\n" + (bytes([7 << 3 | 4]) + b"\0" * 31) * 50  # one second of AMR-NB 12.2 kbit/s


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin")


def upload(client, admin, kind: str, data: bytes, name: str, **query: Any) -> Any:  # type: ignore[no-untyped-def]
    params = {"name": "制度更新", "kind": kind, "userids": ["zhangsan"], **query}
    return client.post("/api/v1/broadcasts/upload", query_string=params, headers=admin,
                       content_type="multipart/form-data", data={"file": (io.BytesIO(data), name)})


def media(fake_wecom) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    return {m["media_id"]: m for m in requests.get(f"{fake_wecom.url}/fake/media", timeout=5).json()["media"]}


@pytest.mark.parametrize(("kind", "data", "name"), [
    ("image", PNG, "通知.png"), ("voice", AMR, "语音.amr"), ("video", MP4, "培训.mp4"), ("file", b"%PDF-1.4 x", "制度.pdf"),
], ids=["image", "voice", "video", "file"])
def test_each_file_kind_reaches_message_send_with_its_media_id(  # type: ignore[no-untyped-def]
        client, admin, fake_wecom, kind, data, name) -> None:
    r = upload(client, admin, kind, data, name, title="培训", description="第一课")
    assert r.status_code == 202, r.get_json()
    out = r.get_json()
    assert out["msgtype"] == kind and "storage_key" not in out["body"]
    [call] = sends(fake_wecom)
    assert call["errcode"] == 0 and call["body"]["msgtype"] == kind and call["body"]["touser"] == "zhangsan"
    sent_id = call["body"][kind]["media_id"]
    assert media(fake_wecom)[sent_id]["type"] == kind and media(fake_wecom)[sent_id]["size"] == len(data)
    if kind == "video":
        assert (call["body"]["video"]["title"], call["body"]["video"]["description"]) == ("培训", "第一课")
    got = client.get(f"/api/v1/broadcasts/{out['id']}", headers=admin).get_json()
    assert got["status"] == "sent"


def test_an_image_of_10_mb_is_taken_as_wecom_takes_it(client, admin, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    r = upload(client, admin, "image", PNG + b"\0" * (10 * MB - len(PNG)), "大图.png")
    assert r.status_code == 202, r.get_json()
    [call] = sends(fake_wecom)
    assert media(fake_wecom)[call["body"]["image"]["media_id"]]["size"] == 10 * MB


@pytest.mark.parametrize(("kind", "head", "size", "name", "why"), [
    ("file", b"%PDF", 20 * MB + 1, "大文件.pdf", "at most 20 MB"),
    ("image", PNG, 10 * MB + 1, "大图.png", "at most 10 MB"),
    ("video", MP4, 10 * MB + 1, "a.mp4", "at most 10 MB"),
    ("video", b"RIFF\0\0\0\0AVI ", 100, "a.mp4", "MP4"),
    ("voice", AMR, 2 * MB + 1, "a.amr", "at most 2 MB"),
], ids=["file 20 MB + 1", "image 10 MB + 1", "video 10 MB + 1", "video not MP4", "voice 2 MB + 1"])
def test_a_file_past_wecoms_limit_is_422_and_nothing_is_stored_or_sent(  # type: ignore[no-untyped-def]
        client, admin, fake_wecom, runtime, kind, head, size, name, why) -> None:
    before = all_rows(runtime)
    files = sum(len(f) for _, _, f in os.walk(runtime.settings.storage_dir))
    r = upload(client, admin, kind, head + b"\0" * (size - len(head)), name)
    assert r.status_code == 422, r.get_json()
    assert why in r.get_json()["error"]["fields"]["file"]
    assert all_rows(runtime) == before
    assert sum(len(f) for _, _, f in os.walk(runtime.settings.storage_dir)) == files
    assert sends(fake_wecom) == [] and fake_wecom.calls("media/upload") == []


def test_no_recipient_is_422_and_the_file_is_not_kept(client, admin, fake_wecom, runtime) -> None:  # type: ignore[no-untyped-def]
    files = sum(len(f) for _, _, f in os.walk(runtime.settings.storage_dir))
    r = upload(client, admin, "image", PNG, "a.png", userids=[])
    assert r.status_code == 422 and "userids" in r.get_json()["error"]["fields"]
    assert sum(len(f) for _, _, f in os.walk(runtime.settings.storage_dir)) == files
    assert sends(fake_wecom) == []


def test_a_scheduled_file_broadcast_goes_once_when_due(client, admin, fake_wecom, runtime) -> None:  # type: ignore[no-untyped-def]
    at = (utcnow() + dt.timedelta(hours=1)).replace(microsecond=0)
    r = upload(client, admin, "file", b"%PDF-1.4 x", "制度.pdf", send_at=at.isoformat())
    assert r.status_code == 202 and r.get_json()["status"] == "scheduled"
    assert send_due_broadcasts() == {"sent": 0} and fake_wecom.calls("media/upload") == []
    with runtime.WriteSession.begin() as s:
        s.execute(update(Broadcast).values(send_at=utcnow() - dt.timedelta(seconds=1)))
    assert send_due_broadcasts() == {"sent": 1}
    assert send_due_broadcasts() == {"sent": 0}
    [call] = sends(fake_wecom)
    assert call["body"]["msgtype"] == "file" and call["body"]["file"]["media_id"] in media(fake_wecom)


def test_a_miniprogram_notice_reaches_message_send(client, admin, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    notice = {"appid": "wx123123123123123", "page": "pages/index?x=1", "title": "会议室预订成功通知",
              "description": "4月27日 16:16", "emphasis_first_item": True,
              "content_item": [{"key": "会议室", "value": "402"}, {"key": "会议地点", "value": "广州TIT-402会议室"}]}
    r = broadcast(client, admin, userids=["zhangsan"], msgtype="miniprogram_notice", body=notice)
    assert r.status_code == 202, r.get_json()
    [call] = sends(fake_wecom)
    assert call["body"]["msgtype"] == "miniprogram_notice" and call["body"]["miniprogram_notice"] == notice


@pytest.mark.parametrize(("body", "field"), [
    ({"page": "p"}, "body.appid"),
    ({"appid": "wx1", "title": "会议室预订成功通知", "content_item": [{"key": "k"}]}, "body.content_item[0]"),
    ({"appid": "wx1", "title": "会议室预订成功通知", "content_item": [{"key": "k", "value": "v"}] * 11},
     "body.content_item"),
    ({"appid": "wx1", "title": "会议室预订成功通知", "emphasis_first_item": "yes"}, "body.emphasis_first_item"),
])
def test_a_bad_miniprogram_notice_is_422_and_sends_nothing(client, admin, fake_wecom, body, field) -> None:  # type: ignore[no-untyped-def]
    r = broadcast(client, admin, userids=["zhangsan"], msgtype="miniprogram_notice", body=body)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()
    assert sends(fake_wecom) == []
