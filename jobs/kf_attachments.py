"""What a knowledge answer's attachments become in kf/send_msg (doc 94677): an uploaded image, voice, video or
file is sent by a media_id from media/upload (wecom/media.py keeps one per app and file and uploads again
before its three days are up, so an id WeCom has forgotten is never sent); a text material is a text; a
mini-program with its cover's media_id is a miniprogram. A link is left out: kf's link message needs a
thumbnail media_id, which a library link (a picture URL) does not have."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from jobs.app_media import stored_media_id
from jobs.outbound import EffectContext
from models import Material
from storage import Missing
from wecom.media import MEDIA_TYPES


def attachment_rows(ctx: EffectContext, material_ids: list[int]) -> list[Material]:
    """The corp's live materials among `material_ids`, in the item's order (a deleted one is left out)."""
    with ctx.runtime.Session() as s:
        rows = {m.id: m for m in s.scalars(select(Material).where(
            Material.id.in_(material_ids), Material.corp_id == ctx.corp_id, Material.deleted_at.is_(None)))}
    return [rows[pk] for pk in material_ids if pk in rows]


def kf_message(ctx: EffectContext, material: Material) -> tuple[str, dict[str, Any]] | str:
    """(msgtype, its object) for kf/send_msg, or why this material cannot go to a kf customer."""
    if material.storage_key and material.kind in MEDIA_TYPES:
        try:
            found = stored_media_id(ctx, material.storage_key, material.kind, material.filename or "",
                                    material.content_type or "")
        except Missing:
            return f"the file of material {material.id} is no longer stored"
        return material.kind, {"media_id": found}
    payload = material.payload or {}
    if material.kind == "text" and payload.get("text"):
        return "text", {"content": str(payload["text"])}
    if material.kind == "image" and payload.get("media_id"):
        return "image", {"media_id": str(payload["media_id"])}
    if material.kind == "miniprogram" and payload.get("pic_media_id"):
        return "miniprogram", {"appid": payload.get("appid", ""), "title": material.title,
                               "thumb_media_id": payload["pic_media_id"], "pagepath": payload.get("page", "")}
    return f"a {material.kind} material cannot be sent by kf/send_msg"
