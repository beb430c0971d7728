"""A stored file (storage/) as WeCom's media_id for the effect's app: wecom/media.py keeps one per app and
file and uploads again (media/upload) before WeCom's three days are up, so a message is never sent with an
id WeCom has forgotten. Shared by the kf bot's answer attachments and staff broadcasts of a file."""

from __future__ import annotations

from typing import Any

from jobs.outbound import EffectContext
from storage import storage
from wecom.media import MEDIA_TYPES, media_id


def stored_media_id(ctx: EffectContext, storage_key: str, kind: str, filename: str, content_type: str) -> str:
    """The media_id of the stored file; storage.Missing when the file is gone."""
    def read() -> bytes:
        stream = storage(ctx.runtime).open(storage_key)
        try:
            return stream.read()
        finally:
            stream.close()

    return media_id(ctx.client, ctx.app_pk, storage_key, kind, filename or kind,
                    content_type or "application/octet-stream", read)


def with_media_id(ctx: EffectContext, msgtype: str, body: dict[str, Any]) -> dict[str, Any]:
    """An app message body naming a stored file (`storage_key`, `filename`, `content_type`) as message/send
    takes it: {media_id} (a video keeps its title and description)."""
    if msgtype not in MEDIA_TYPES or "storage_key" not in body:
        return body
    found = stored_media_id(ctx, body["storage_key"], msgtype, body.get("filename", ""), body.get("content_type", ""))
    return {"media_id": found, **{k: body[k] for k in ("title", "description") if body.get(k)}}
