"""The material library (素材库 / 企业文件夹, 004 §6.2) over the admin API: text, image, link, mini-program
from JSON; image, video, file and voice uploaded (multipart, field `file`) into the same store as follow-up
attachments (storage/); list and search by title or file name, filter by kind and category, download,
change, delete, and count a use.

Limits (rules/library_files.py) are checked before anything is stored: over the kind's size is a 413,
another format a 422, and the store is not touched. A link's url is what radar links and welcomes point
at: it cannot change once created (422), everything else can. The corp's library is read by every role
and changed by admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, send_file, url_for
from sqlalchemy import or_
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from models import Material, Role
from models.db import utcnow
from models.library import Section
from rules.attachments import clean_name
from rules.library_files import MAX_UPLOAD, RULES, Rule, refusal
from storage import Missing, storage
from web import errors
from web.api import _like, _live, _runtime, page
from web.api_follow_up_files import FORM_OVERHEAD
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web import library_tree
from web.library_tree import filed, placed
from web.schemas.common import Deleted, Page
from web.schemas.library import (MATERIAL_KINDS, MaterialChange, MaterialIn, MaterialOut, MaterialQuery,
                                 UploadQuery, UseOut)
from web.scope import corp_and_app, live_rows

bp = Blueprint("api_materials", __name__, url_prefix="/api/v1")
errors.register(bp)

HEAD_BYTES = 16


def material_json(m: Material) -> dict[str, Any]:
    return {"id": m.id, "kind": m.kind, "title": m.title, "payload": dict(m.payload), "category_id": m.category_id,
            "filename": m.filename, "content_type": m.content_type, "size": m.size,
            "download": url_for("api_materials.download", material_id=m.id) if m.storage_key else None,
            "uses": m.uses}


def material_rows(s: Session, query: MaterialQuery) -> Any:
    rows = live_rows(Material)
    if query.kind:
        rows = rows.where(Material.kind == query.kind)
    in_category = filed(s, Material.category_id, query.category_id)
    if in_category is not None:
        rows = rows.where(in_category)
    if query.keyword:
        pattern = _like(query.keyword)
        rows = rows.where(or_(Material.title.like(pattern, escape="\\"), Material.filename.like(pattern, escape="\\")))
    return rows


def _payload_errors(kind: str, payload: dict[str, str]) -> None:
    needed = [k for k in MATERIAL_KINDS[kind] if not payload.get(k)]
    if kind == "image" and payload.get("pic_url"):
        needed = []
    if kind in ("video", "file", "voice"):
        raise ApiError(422, "invalid", f"kind: a {kind} is uploaded (POST /materials/upload)",
                       {"kind": "upload this kind as a file"})
    if kind == "link" and not payload.get("url", "").startswith(("http://", "https://")):
        needed = ["url (http or https)"]
    if needed:
        raise ApiError(422, "invalid", "bad material", {"payload": f"needs {', '.join(needed)}"})


def live_material(s: Session, material_id: int) -> Material:
    return _live(s, Material, material_id, "material")


def checked_file(kind: str, upload: FileStorage, too_large: int = 413,
                 rules: dict[str, Rule] = RULES) -> tuple[str, str, int]:
    """(clean file name, content type, size) of an upload `rules` take as a `kind` (rules/library_files.py:
    the library's, or WeCom's own); else ApiError naming `file`: `too_large` (413, or 422 where the
    caller's rule says so) past the kind's size, 422 for another format. The stream is left at its start."""
    stream = upload.stream
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    name = clean_name(upload.filename or "")
    content_type = (upload.mimetype or "application/octet-stream")[:128]
    head = stream.read(HEAD_BYTES)
    stream.seek(0)

    def whole() -> bytes:
        data = stream.read()
        stream.seek(0)
        return data

    why = refusal(kind, name, content_type, size, head, whole, rules)
    if why:
        status = too_large if why[0] == 413 else why[0]
        raise ApiError(status, "too_large" if status == 413 else "invalid", f"file: {why[1]}", {"file": why[1]})
    return name, content_type, size


@bp.get("/materials")
@require(Role.member)
@endpoint("The material library (素材库): filter by kind and category, search titles and file names",
          query=MaterialQuery, response=Page[MaterialOut])
def list_materials(query: MaterialQuery) -> Any:
    with _runtime().Session() as s:
        rows = material_rows(s, query)
    return page(rows, material_json, query)


@bp.get("/materials/<id:material_id>")
@require(Role.member)
@endpoint("One material", response=MaterialOut)
def get_material(material_id: int) -> Any:
    with _runtime().Session() as s:
        return jsonify(material_json(live_material(s, material_id)))


@bp.post("/materials")
@require(Role.admin)
@endpoint("Add a text, image (media_id or pic_url), link or mini-program to the material library",
          body=MaterialIn, response=MaterialOut, status=201)
def create_material(body: MaterialIn) -> Any:
    _payload_errors(body.kind, body.payload)
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        row = Material(corp_id=corp_id, kind=body.kind, title=body.title, payload=body.payload,
                       category_id=placed(s, body.category_id, corp_id, Section.material, None))
        s.add(row)
        s.flush()
        audit(s, "material.create", f"material:{row.id}", kind=row.kind)
        return jsonify(material_json(row)), 201


@bp.post("/materials/upload")
@require(Role.admin, max_body=MAX_UPLOAD + FORM_OVERHEAD)
@endpoint("Upload an image (≤2 MB JPG/PNG), video (≤10 MB MP4), file (≤20 MB PDF/PPT/Word/Excel/Txt) or voice "
          "(≤2 MB AMR, ≤60 s) into the material library", query=UploadQuery, upload="file", response=MaterialOut,
          status=201)
def upload_material(query: UploadQuery, upload: FileStorage) -> Any:
    """Multipart/form-data, the file in field `file`. 413 over the kind's size, 422 for another format; nothing
    is stored then."""
    name, content_type, size = checked_file(query.kind, upload)
    stream = upload.stream
    with _runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        category_id = placed(s, query.category_id, corp_id, Section.material, None)
    store = storage(_runtime())
    key = store.put(stream, content_type)
    try:
        with _runtime().WriteSession.begin() as s:
            row = Material(corp_id=corp_id, kind=query.kind, title=query.title or name, payload={},
                           category_id=category_id, storage_key=key, filename=name, content_type=content_type,
                           size=size)
            s.add(row)
            s.flush()
            audit(s, "material.upload", f"material:{row.id}", kind=row.kind, filename=name, size=size)
            return jsonify(material_json(row)), 201
    except Exception:
        store.delete(key)  # the row never made it: leave no file without one
        raise


def file_response(material_id: int) -> Any:
    """The uploaded file of a material the caller may see, as a download that is never rendered as a page."""
    with _runtime().Session() as s:
        row = live_material(s, material_id)
    if not row.storage_key:
        raise ApiError(404, "not_found", f"material {material_id} has no file")
    try:
        stream = storage(_runtime()).open(row.storage_key)
    except Missing:
        raise ApiError(410, "gone", f"the file of material {material_id} is no longer stored") from None
    response = send_file(stream, mimetype=row.content_type or "application/octet-stream", as_attachment=True,
                         download_name=row.filename or "material", max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@bp.get("/materials/<id:material_id>/file")
@require(Role.member)
@endpoint("Download an uploaded material's file", response=bytes)
def download(material_id: int) -> Any:
    return file_response(material_id)


@bp.patch("/materials/<id:material_id>")
@require(Role.admin)
@endpoint("Rename, move (category_id; 0: 未分类) or change a material's payload; a link's url never changes",
          body=MaterialChange, response=MaterialOut)
def update_material(material_id: int, body: MaterialChange) -> Any:
    fields = body.model_dump(exclude_none=True)
    if not fields:
        raise ApiError(422, "invalid", "the material has errors", {"body": "give title, payload or category_id"})
    with _runtime().WriteSession.begin() as s:
        row = live_material(s, material_id)
        if body.payload is not None:
            if row.kind == "link" and body.payload.get("url", row.payload.get("url")) != row.payload.get("url"):
                raise ApiError(422, "invalid", "payload: a link's url cannot be edited once created",
                               {"payload": "url is fixed: add a new link instead"})
            payload = {**body.payload, "url": row.payload["url"]} if row.kind == "link" else body.payload
            if not row.storage_key:
                _payload_errors(row.kind, payload)
            row.payload = payload
        if body.title is not None:
            row.title = body.title
        if body.category_id is not None:
            row.category_id = placed(s, body.category_id, row.corp_id, Section.material, None)
        audit(s, "material.update", f"material:{row.id}", **fields)
        s.flush()
        return jsonify(material_json(row))


@bp.delete("/materials/<id:material_id>")
@require(Role.admin)
@endpoint("Delete a material (welcomes and replies that name it leave it out)", response=Deleted)
def delete_material(material_id: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        row = live_material(s, material_id)
        row.deleted_at = utcnow()
        audit(s, "material.delete", f"material:{row.id}")
    return jsonify({"id": material_id, "deleted": True})


def count_use(material_id: int) -> dict[str, int]:
    """One more use of a material the caller may see (sent from the sidebar)."""
    return library_tree.count_use(_runtime(), Material, material_id, "material", live_material)


@bp.post("/materials/<id:material_id>/uses")
@require(Role.member)
@endpoint("Count one use of a material", response=UseOut)
def use_material(material_id: int) -> Any:
    return jsonify(count_use(material_id))
