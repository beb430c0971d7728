"""Staff broadcasts (员工消息下发, manual 9.5) of an image, voice, video or file: the file is uploaded with the
broadcast (multipart, field `file`; recipients, name and `send_at` in the query string) and checked against
what WeCom's media/upload takes (rules/library_files.py WECOM_MEDIA_RULES: image ≤10 MB JPG/PNG, voice ≤2 MB
AMR ≤60 s, video ≤10 MB MP4, file ≤20 MB; a refusal is a 422 that stores and sends nothing). It waits in
storage/ and goes to media/upload when the message is sent (jobs/app_media.py), now or at `send_at` by the
same exactly-once cron job as any scheduled broadcast (jobs/broadcasts.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from models import Role
from rules.library_files import WECOM_MEDIA_RULES
from storage import storage
from web import errors
from web.api import _runtime
from web.api_broadcasts import save_broadcast
from web.api_follow_up_files import FORM_OVERHEAD
from web.api_materials import checked_file
from web.auth import require
from web.endpoint import endpoint
from web.schemas.moderation import BroadcastFileQuery, BroadcastOut

bp = Blueprint("api_broadcast_files", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_FILE = max(rule.max_bytes for rule in WECOM_MEDIA_RULES.values())


@bp.post("/broadcasts/upload")
@require(Role.admin, max_body=MAX_FILE + FORM_OVERHEAD)
@endpoint("Send an image, voice, video or file to staff now or at send_at (202: media/upload, message/send)",
          query=BroadcastFileQuery, upload="file", response=BroadcastOut, status=202)
def upload_broadcast(query: BroadcastFileQuery, upload: FileStorage) -> Any:
    name, content_type, size = checked_file(query.kind, upload, too_large=422, rules=WECOM_MEDIA_RULES)
    store = storage(_runtime())
    key = store.put(upload.stream, content_type)
    body: dict[str, Any] = {"storage_key": key, "filename": name, "content_type": content_type, "size": size}
    if query.kind == "video":
        body.update({k: v for k, v in (("title", query.title), ("description", query.description)) if v})

    def content(s: Session, corp_id: str) -> tuple[None, dict[str, str], str, dict[str, Any]]:
        return None, {}, query.kind, body

    return save_broadcast(query.corp_id, query.name, query.userids, query.departments, query.send_at, content,
                          on_failure=lambda: store.delete(key))
