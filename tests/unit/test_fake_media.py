"""media/upload, in the fake WeCom and through wecom/media.py: WeCom's limits and errcodes, its answer's
shape, and one upload per (file, app) while the media_id has time left."""

from __future__ import annotations

import pytest
import requests

from support import CORP_ID, SECRET
from wecom.client import WeComClient, WeComError
from wecom.media import MEDIA_SECONDS, media_id, upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
MB = 1024 * 1024


@pytest.fixture
def wecom(fake_wecom) -> WeComClient:  # type: ignore[no-untyped-def]
    return WeComClient(CORP_ID, SECRET, fake_wecom.api_base)


def uploaded(fake_url: str) -> list[dict]:
    return requests.get(f"{fake_url}/fake/media", timeout=5).json()["media"]


def refused(call) -> int | None:  # type: ignore[no-untyped-def]
    with pytest.raises(WeComError) as exc:
        call()
    return exc.value.errcode


def test_an_image_becomes_a_media_id(fake_wecom, wecom) -> None:
    found = upload(wecom, "image", "a.png", PNG, "image/png")
    [record] = uploaded(fake_wecom.url)
    assert record["media_id"] == found and record["type"] == "image" and record["size"] == len(PNG)
    assert record["corpid"] == CORP_ID


@pytest.mark.parametrize(("kind", "name", "size", "errcode"), [
    ("image", "big.png", 10 * MB + 1, 40009),   # image ≤ 10 MB
    ("image", "a.gif", 100, 40005),              # JPG/PNG only
    ("video", "a.mov", 100, 40005),              # MP4 only
    ("video", "a.mp4", 10 * MB + 1, 40006),      # video ≤ 10 MB
    ("voice", "a.mp3", 100, 40005),              # AMR only
    ("voice", "a.amr", 2 * MB + 1, 40006),       # voice ≤ 2 MB
    ("file", "a.pdf", 20 * MB + 1, 40006),       # file ≤ 20 MB
    ("file", "a.txt", 5, 40006),                 # every file over 5 bytes
    ("sticker", "a.png", 100, 40004),            # no such type
])
def test_media_upload_limits(fake_wecom, wecom, kind, name, size, errcode) -> None:  # type: ignore[no-untyped-def]
    files = {"media": (name, b"x" * size, "application/octet-stream")}
    assert refused(lambda: wecom.post("media/upload", params={"type": kind}, files=files)) == errcode
    assert uploaded(fake_wecom.url) == []


def test_the_limits_themselves_pass(fake_wecom, wecom) -> None:
    for kind, name, size in (("image", "a.jpg", 10 * MB), ("video", "a.mp4", 10 * MB), ("file", "a.pdf", 20 * MB),
                             ("voice", "a.amr", 2 * MB), ("file", "a.txt", 6)):
        upload(wecom, kind, name, b"x" * size, "application/octet-stream")
    assert len(uploaded(fake_wecom.url)) == 5


def test_a_file_is_uploaded_once_per_app_until_its_three_days_near(fake_wecom, wecom) -> None:
    clock = [1_000_000.0]
    reads = []

    def read() -> bytes:
        reads.append(1)
        return PNG

    def get(app_pk: int) -> str:
        return media_id(wecom, app_pk, "a" * 32, "image", "a.png", "image/png", read, now=lambda: clock[0])

    first = get(1)
    assert get(1) == first and len(reads) == 1
    assert get(2) != first  # another app uploads its own
    clock[0] += MEDIA_SECONDS - 1800  # within the last hour of three days: renewed
    assert get(1) != first and len(reads) == 3
    assert len(uploaded(fake_wecom.url)) == 3
