"""A kf account's pictures: its avatar (客服头像) uploaded instead of naming a WeCom media_id, and a scene link's
QR code (场景二维码).

The avatar is a JPG or PNG of at most 2 MB (WeCom's limit for a kf avatar), checked here by its first bytes
and size, so a file WeCom would refuse is a 422 that stores nothing and calls nothing. The file is kept in
storage/ and the job (jobs/kf_avatar.py) uploads it with media/upload and sets it with kf/account/update (202).
WeCom gives a scene only its link (kf/add_contact_way's url); its QR code is drawn here from that link."""

from __future__ import annotations

from typing import Any

import io

import segno
from flask import Blueprint, jsonify, send_file
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox
from models import KfAccount, KfScene, Role
from storage import storage
from web import errors
from web.api import _live
from web.api_kf import _account_json
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.kf import AccountOut, SceneQrQuery

bp = Blueprint("api_kf_avatar", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_AVATAR_BYTES = 2 * 1024 * 1024
KINDS = {b"\xff\xd8\xff": ("image/jpeg", ".jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", ".png")}
FORM_OVERHEAD = 64 * 1024


def checked_avatar(upload: FileStorage) -> tuple[str, str, int]:
    """(content type, file name WeCom gets, size) of a JPG/PNG of at most 2 MB; 422 naming `file` otherwise."""
    upload.stream.seek(0, 2)
    size = upload.stream.tell()
    upload.stream.seek(0)
    if size > MAX_AVATAR_BYTES:
        raise ApiError(422, "invalid", f"file: {size} bytes is over the avatar limit of 2 MB "
                       f"({MAX_AVATAR_BYTES} bytes)", {"file": "at most 2 MB"})
    head = upload.stream.read(8)
    upload.stream.seek(0)
    kind = next((found for magic, found in KINDS.items() if head.startswith(magic)), None)
    if kind is None or size <= 5:
        raise ApiError(422, "invalid", "file: an avatar is a JPG or PNG image", {"file": "a JPG or PNG image"})
    return kind[0], f"avatar{kind[1]}", size


@bp.post("/kf/accounts/<id:account_pk>/avatar")
@require(Role.admin, max_body=MAX_AVATAR_BYTES + FORM_OVERHEAD)
@endpoint("Upload a kf account's avatar (JPG/PNG ≤ 2 MB; 202: media/upload, then kf/account/update)",
          upload="file", response=AccountOut, status=202)
def upload_avatar(account_pk: int, upload: FileStorage) -> Any:
    content_type, filename, size = checked_avatar(upload)
    with runtime().Session() as s:
        account = _live(s, KfAccount, account_pk, "kf account")
        if not account.open_kfid:
            raise ApiError(409, "conflict", "the kf account is still being created in WeCom")
    store = storage(runtime())
    key = store.put(upload.stream, content_type)
    try:
        with runtime().WriteSession.begin() as s:
            account = s.get_one(KfAccount, account_pk)
            row = HandlerContext(session=s, corp_id=account.corp_id, app_pk=account.app_pk).outbox(
                "kf_account_avatar", {"app_pk": account.app_pk, "account_pk": account.id, "storage_key": key,
                                      "filename": filename, "content_type": content_type},
                key=f"kf_account_avatar:{account.id}:{key}")
            audit(s, "kf_account.avatar", f"kf_account:{account.id}", size=size, content_type=content_type)
            pending = [(row.id, row.queue)]
    except Exception:
        store.delete(key)  # no job will ever read it
        raise
    enqueue_outbox(pending)
    with runtime().Session() as s:
        return jsonify(_account_json(s, s.get_one(KfAccount, account_pk))), 202


@bp.get("/kf/accounts/<id:account_pk>/scene-qr.png")
@require(Role.admin)
@endpoint("A scene link's QR code as PNG (from the link kf/add_contact_way gave the scene)", query=SceneQrQuery,
          response=bytes)
def scene_qr(account_pk: int, query: SceneQrQuery) -> Any:
    with runtime().Session() as s:
        account = _live(s, KfAccount, account_pk, "kf account")
        url = s.scalar(select(KfScene.url).where(KfScene.account_pk == account.id, KfScene.scene == query.scene))
    if url is None:
        raise ApiError(404, "not_found", f"kf account {account_pk} has no scene {query.scene!r}")
    if not url:
        raise ApiError(409, "conflict", "the scene's link is still being made in WeCom")
    png = io.BytesIO()
    segno.make(url, error="m").save(png, kind="png", scale=query.scale, border=2)
    png.seek(0)
    return send_file(png, mimetype="image/png", as_attachment=True, download_name=f"kf-scene-{query.scene}.png",
                     max_age=0)
