"""A kf account's avatar (客服头像) uploaded to WeCom: media/upload (type image) of the stored file, then
kf/account/update with the media_id it gave. The file waits in storage/ between the upload the admin made and
this job, and is deleted once WeCom has the avatar (WeCom's media_id lives three days; the avatar stays)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jobs.kf import _open_kfid
from jobs.outbound import EffectContext, effect
from jobs.queue import FinalError
from models import KfAccount
from storage import Missing, storage
from wecom.media import upload


@effect("kf_account_avatar")
def kf_account_avatar(ctx: EffectContext, account_pk: int, storage_key: str, filename: str,
                      content_type: str) -> dict[str, Any] | None:
    open_kfid = _open_kfid(ctx, account_pk)
    store = storage(ctx.runtime)
    try:
        stream = store.open(storage_key)
    except Missing:
        raise FinalError(f"the avatar file {storage_key} is no longer stored") from None
    try:
        data = stream.read()
    finally:
        stream.close()
    media_id = upload(ctx.client, "image", filename, data, content_type)
    ctx.client.post("kf/account/update", data={"open_kfid": open_kfid, "media_id": media_id})

    def write(s: Session) -> dict[str, Any]:
        s.get_one(KfAccount, account_pk).media_id = media_id
        return {"media_id": media_id, "bytes": len(data)}

    result = ctx.finish(write)
    store.delete(storage_key)
    return result
