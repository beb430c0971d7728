"""The fake's temporary media: ``media/upload?type=image|voice|video|file`` with the file in form field
``media``, answered as WeCom does (上传临时素材): ``{type, media_id, created_at}``, the media_id valid three
days. WeCom's limits: every file over 5 bytes; image ≤ 10 MB JPG/PNG; voice ≤ 2 MB AMR (≤ 60 s, not checked
here); video ≤ 10 MB MP4; file ≤ 20 MB. Errcodes (WeCom's global list): 40004 invalid media type, 40005
unsupported file type, 40006 invalid file size, 40009 invalid image size, 44001 empty media; a call that
takes a media_id (kf/account/add and update) answers 40007 for one past its three days. Tests read
what was uploaded from ``GET /fake/media`` and make it older with ``POST /fake/media/age``."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Any, Protocol

from flask import Flask, request

from wecom.fake.call import Call, corpid_of
from wecom.fake.errors import WeComError

MB = 1024 * 1024
LIFETIME = 3 * 24 * 3600
LIMITS = {"image": (10 * MB, (".jpg", ".jpeg", ".png"), 40009), "voice": (2 * MB, (".amr",), 40006),
          "video": (10 * MB, (".mp4",), 40006), "file": (20 * MB, (), 40006)}
INVALID_TYPE, BAD_FILE_TYPE, BAD_SIZE, EMPTY_MEDIA, INVALID_MEDIA_ID = 40004, 40005, 40006, 44001, 40007
MEDIA_PREFIX = "fake-media-"


class _Server(Protocol):
    state: Any


class MediaState:
    """Uploaded media by id; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._media: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        with self._lock:
            self._media.clear()

    def add(self, corpid: str, agentid: int | None, kind: str, filename: str, data: bytes) -> dict[str, Any]:
        record: dict[str, Any] = {"media_id": f"{MEDIA_PREFIX}{secrets.token_urlsafe(24)}", "corpid": corpid,
                                  "agentid": agentid, "type": kind, "filename": filename, "size": len(data),
                  "sha256": hashlib.sha256(data).hexdigest(), "created_at": int(time.time())}
        with self._lock:
            self._media[record["media_id"]] = record
        return record

    def check(self, corpid: str, media_id: str) -> None:
        """A media_id the fake issued must be the corp's and under three days old: 40007 (invalid media_id)
        otherwise. Ids the fake never issued (tests' placeholders) pass, as before media/upload existed."""
        if not media_id.startswith(MEDIA_PREFIX):
            return
        with self._lock:
            record = self._media.get(media_id)
        if record is None or record["corpid"] != corpid or time.time() - record["created_at"] >= LIFETIME:
            raise WeComError(INVALID_MEDIA_ID, "invalid media_id")

    def age(self, seconds: int) -> None:
        with self._lock:
            for record in self._media.values():
                record["created_at"] -= seconds

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._media.values())


def check_message_media(server: _Server, corpid: str, message: dict[str, Any]) -> None:
    """A message of msgtype image, voice, video or file (kf/send_msg, message/send) names its media by
    `media_id`: none is 40058 (missing parameter), one WeCom no longer knows 40007."""
    kind = message.get("msgtype")
    if kind not in LIMITS:
        return
    part = message.get(kind)
    found = part.get("media_id") if isinstance(part, dict) else None
    if not isinstance(found, str) or not found:
        raise WeComError(40058, f"invalid parameter: {kind}.media_id")
    server.state.media.check(corpid, found)


def media_upload(server: _Server, call: Call) -> dict[str, Any]:
    kind = call.args.get("type", "")
    if kind not in LIMITS:
        raise WeComError(INVALID_TYPE, "invalid media type")
    upload = request.files.get("media")
    if upload is None:
        raise WeComError(EMPTY_MEDIA, "empty media data")
    data = upload.read()
    max_bytes, extensions, too_large = LIMITS[kind]
    if len(data) <= 5:
        raise WeComError(BAD_SIZE, "invalid file size: must be over 5 bytes")
    if len(data) > max_bytes:
        raise WeComError(too_large, f"invalid file size: {kind} over {max_bytes // MB} MB")
    name = (upload.filename or "").lower()
    if extensions and not name.endswith(extensions):
        raise WeComError(BAD_FILE_TYPE, f"invalid file type for {kind}")
    record = server.state.media.add(corpid_of(call), call.agentid, kind, upload.filename or "", data)
    return {"type": kind, "media_id": record["media_id"], "created_at": str(record["created_at"])}


def add_media_routes(app: Flask, state: Any) -> None:
    """The /fake/media control routes."""

    @app.get("/fake/media")
    def list_media() -> dict[str, Any]:
        return {"media": state.media.listing()}

    @app.post("/fake/media/age")
    def age_media() -> dict[str, Any]:
        spec = request.get_json(force=True, silent=True) or {}
        state.media.age(int(spec.get("seconds", 0)))
        return {"ok": True}
