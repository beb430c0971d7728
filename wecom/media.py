"""WeCom's temporary media (media/upload): a stored file becomes a `media_id` that sendChatMessage, welcome
messages and app messages take for an image, voice, video or file. WeCom keeps a media_id three days
(上传临时素材: 该media_id仅三天内有效), so one upload serves every send of that file by that app for a
little under three days: the id is kept in the client's shared store (Redis with Redis, else this
process), with the time it must be renewed, per (app, file)."""

from __future__ import annotations

import time
from collections.abc import Callable

from wecom.client import WeComClient

MEDIA_SECONDS = 3 * 24 * 3600
RENEW_EARLY = 3600
"""Renew an hour before WeCom forgets the id: a send made with one that dies in flight would fail."""
MEDIA_TYPES = ("image", "voice", "video", "file")


def clock() -> float:
    """The time a cached media_id is judged by: the Unix clock (a test moves it three days on)."""
    return time.time()


def upload(client: WeComClient, kind: str, filename: str, data: bytes, content_type: str) -> str:
    """media/upload?type=`kind` with the file in form field `media`; WeCom's media_id."""
    if kind not in MEDIA_TYPES:
        raise ValueError(f"WeCom takes no temporary media of kind {kind!r}")
    result = client.post("media/upload", params={"type": kind},
                         files={"media": (filename, data, content_type)})
    return str(result["media_id"])


def media_id(client: WeComClient, app_pk: int, storage_key: str, kind: str, filename: str, content_type: str,
             read: Callable[[], bytes], now: Callable[[], float] | None = None) -> str:
    """The media_id of the stored file `storage_key` for app `app_pk`: the cached one while it has more than
    an hour to live, else a fresh upload (`read` gives the file's bytes, read only then)."""
    now = now or clock
    key = f"scrm_media:{app_pk}:{storage_key}"
    cached = client.session.get(key)
    if cached:
        found, _, until = str(cached).rpartition(" ")
        if found and until.isdigit() and now() < int(until):
            return found
    fresh = upload(client, kind, filename, read(), content_type)
    keep = MEDIA_SECONDS - RENEW_EARLY
    client.session.set(key, f"{fresh} {int(now()) + keep}", keep)
    return fresh
