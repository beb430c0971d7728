"""A knowledge answer's uploaded attachments (知识库 附件, 004 §6.1.1.1.2): an image (≤2 MB JPG/PNG), voice (≤2 MB
AMR, ≤60 s), video (≤10 MB MP4) or file (≤20 MB) uploaded onto one item, checked by rules/library_files.py
before anything is stored (every refusal here is a 422 naming `file`). The file becomes a material of the
corp's library (storage/, like any uploaded material) and its id is added to the item's `attachments`, so
the sidebar sends it like the rest and the customer-service bot sends it after the answer's text
(jobs/kf_send.py), each through WeCom's media/upload when it is sent."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from werkzeug.datastructures import FileStorage

from models import Material, Role
from rules.library_files import MAX_UPLOAD
from storage import storage
from web import errors
from web.api import _runtime
from web.api_follow_up_files import FORM_OVERHEAD
from web.api_knowledge import live_item
from web.api_materials import checked_file
from web.auth import audit, require
from web.endpoint import endpoint
from web.schemas.library import AttachmentQuery, KnowledgeOut

bp = Blueprint("api_knowledge_files", __name__, url_prefix="/api/v1")
errors.register(bp)


@bp.post("/kf/knowledge/<id:item_pk>/attachments")
@require(Role.member, max_body=MAX_UPLOAD + FORM_OVERHEAD)
@endpoint("Upload an attachment onto a knowledge answer (image ≤2 MB JPG/PNG, voice ≤2 MB AMR ≤60 s, video "
          "≤10 MB MP4, file ≤20 MB; 422 and nothing stored otherwise)", query=AttachmentQuery, upload="file",
          response=KnowledgeOut, status=201)
def upload_attachment(item_pk: int, query: AttachmentQuery, upload: FileStorage) -> Any:
    """Multipart/form-data, the file in field `file`; the item's answer then ends with it."""
    name, content_type, size = checked_file(query.kind, upload, too_large=422)
    with _runtime().Session() as s:
        live_item(s, item_pk, write=True)  # 404/403 before the store is touched
    store = storage(_runtime())
    key = store.put(upload.stream, content_type)
    try:
        with _runtime().WriteSession.begin() as s:
            item = live_item(s, item_pk, write=True)
            row = Material(corp_id=item.corp_id, kind=query.kind, title=query.title or name, payload={},
                           storage_key=key, filename=name, content_type=content_type, size=size)
            s.add(row)
            s.flush()
            item.attachments = [*item.attachments, row.id]
            audit(s, "knowledge.attachment", f"knowledge:{item.id}", material=row.id, kind=row.kind,
                  filename=name, size=size)
            s.flush()
            return jsonify(item.public()), 201
    except Exception:
        store.delete(key)  # the row never made it: leave no file without one
        raise
