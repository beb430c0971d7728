"""微信客服 knowledge answers with attachments (issue 17 item 6): uploaded onto an item within the manual's
limits (image ≤2 MB JPG/PNG, voice ≤2 MB AMR ≤60 s, video ≤10 MB MP4, file ≤20 MB; anything else a 422 that
stores nothing and calls nothing), sent by the bot after the text as kf/send_msg messages of their own
msgtype through media/upload, re-uploaded once WeCom's three days are up, and counted against the 5
messages per customer message."""

from __future__ import annotations

import io
import os
import time
from typing import Any

import pytest
import requests
from customer_world import all_rows
from kf_support import text
from sqlalchemy import select

from models import Outbox
from test_kf_flow import account, admin, bodies, deliver, kf  # noqa: F401  (fixtures)
import wecom.media

ANSWER = "七天无理由退货，在订单页点“申请售后”即可。"
MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
MP4 = b"\0\0\0\x18ftypmp42" + b"\0" * 64
AMR_122_FRAME = bytes([7 << 3 | 4]) + b"\0" * 31
"""One AMR-NB 12.2 kbit/s frame: header byte (frame type 7, quality bit) and 31 bytes, 20 ms of sound."""


def amr(seconds: float) -> bytes:
    return b"#!AMR\n" + AMR_122_FRAME * round(seconds / 0.02)


@pytest.fixture
def item(client, admin) -> int:  # type: ignore[no-untyped-def]  # noqa: F811
    r = client.post("/api/v1/kf/knowledge", json={"question": "怎么退货", "similar": ["如何退货"], "answer": ANSWER},
                    headers=admin)
    assert r.status_code == 201
    return int(r.get_json()["id"])


def attach(client, headers, item_pk: int, kind: str, data: bytes, name: str) -> Any:  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/kf/knowledge/{item_pk}/attachments?kind={kind}", headers=headers,
                       content_type="multipart/form-data", data={"file": (io.BytesIO(data), name)})


def stored_files(runtime) -> int:  # type: ignore[no-untyped-def]
    return sum(len(files) for _, _, files in os.walk(runtime.settings.storage_dir))


def uploaded(fake_wecom) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return requests.get(f"{fake_wecom.url}/fake/media", timeout=5).json()["media"]


def sized(head: bytes, size: int) -> bytes:
    return head + b"\0" * (size - len(head))


PAST_LIMITS = {  # kind, head, size, file name, what the refusal says
    "image 2 MB + 1": ("image", PNG, 2 * MB + 1, "a.png", "at most 2 MB"),
    "voice 61 s": ("voice", amr(61), len(amr(61)), "a.amr", "at most 60 s"),
    "video 10 MB + 1": ("video", MP4, 10 * MB + 1, "a.mp4", "at most 10 MB"),
    "video AVI named .mp4": ("video", b"RIFF\0\0\0\0AVI ", 100, "a.mp4", "MP4"),
    "video .mov": ("video", MP4, 100, "a.mov", "MP4"),
    "file 20 MB + 1": ("file", b"%PDF", 20 * MB + 1, "a.pdf", "at most 20 MB"),
}


@pytest.mark.parametrize("case", list(PAST_LIMITS))
def test_an_attachment_past_its_limit_is_422_and_stores_nothing(  # type: ignore[no-untyped-def]
        client, admin, item, fake_wecom, runtime, case) -> None:  # noqa: F811
    kind, head, size, name, why = PAST_LIMITS[case]
    before, files = all_rows(runtime), stored_files(runtime)
    r = attach(client, admin, item, kind, sized(head, size), name)
    assert r.status_code == 422, r.get_json()
    assert why in r.get_json()["error"]["fields"]["file"]
    assert all_rows(runtime) == before and stored_files(runtime) == files
    assert fake_wecom.calls("media/upload") == []


def test_the_limits_themselves_are_taken(client, admin, item, runtime) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for kind, data, name in (("image", sized(PNG, 2 * MB), "a.png"), ("voice", amr(60), "a.amr"),
                             ("video", sized(MP4, 10 * MB), "a.mp4"), ("file", b"x" * 20 * MB, "a.txt")):
        r = attach(client, admin, item, kind, data, name)
        assert r.status_code == 201, r.get_json()
    assert len(r.get_json()["attachments"]) == 4
    assert stored_files(runtime) >= 4


def test_an_answer_with_an_image_goes_as_text_then_image_and_is_reuploaded_after_three_days(  # type: ignore[no-untyped-def]
        client, admin, item, sender, kf, account, fake_wecom, monkeypatch) -> None:  # noqa: F811
    assert attach(client, admin, item, "image", PNG, "退货流程.png").status_code == 201
    assert fake_wecom.calls("media/upload") == []  # uploaded to WeCom when it is sent, not before
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "请问如何退货？"))
    first_text, first_image = bodies(fake_wecom, "kf/send_msg")
    assert first_text["msgtype"] == "text" and first_text["text"] == {"content": ANSWER}
    assert first_image["msgtype"] == "image" and first_image["touser"] == "wmA"
    [media] = uploaded(fake_wecom)
    assert (media["type"], media["media_id"]) == ("image", first_image["image"]["media_id"])

    # three days on: WeCom has forgotten the id (the fake answers 40007 for it), so it is uploaded again
    requests.post(f"{fake_wecom.url}/fake/media/age", json={"seconds": 3 * 24 * 3600}, timeout=5)
    monkeypatch.setattr(wecom.media, "clock", lambda: time.time() + 3 * 24 * 3600)
    time.sleep(1.1)  # the customer's next message is in a later second than our answers
    deliver(sender, kf, open_kfid, text("wmA", "如何退货呢"))
    sends = fake_wecom.calls("kf/send_msg")
    assert [c["errcode"] for c in sends] == [0, 0, 0, 0]
    again = sends[-1]["body"]
    assert again["msgtype"] == "image" and again["image"]["media_id"] != first_image["image"]["media_id"]
    assert [m["media_id"] for m in uploaded(fake_wecom)][1] == again["image"]["media_id"]


def test_attachments_past_the_five_message_budget_are_refused_with_the_reason(  # type: ignore[no-untyped-def]
        client, admin, item, sender, kf, account, fake_wecom, runtime) -> None:  # noqa: F811
    for i in range(5):
        assert attach(client, admin, item, "image", PNG + bytes([i]), f"{i}.png").status_code == 201
    deliver(sender, kf, account["open_kfid"], text("wmA", "请问如何退货？"))
    sends = fake_wecom.calls("kf/send_msg")
    assert [c["body"]["msgtype"] for c in sends] == ["text"] + ["image"] * 4
    assert all(c["errcode"] == 0 for c in sends)  # the sixth never reached WeCom
    with runtime.Session() as s:
        result = s.scalar(select(Outbox.result).where(Outbox.job == "kf_send_text"))
    [refused] = result["refused"]
    assert "at most 5 per customer message within 48 h" in refused["reason"]
    assert len(uploaded(fake_wecom)) == 4
