"""The sidebar's two libraries: 快捷回复 (the knowledge base's 话术库, 常用语 and 常用链接, the corp's and the
member's own, 004 §6.1) and 素材库 (the material library, §6.2). Each page loads one JSON answer (its category
tree and up to LIMIT items, searched on the server), browses the tree in the browser, and sends a tap
through WeCom's sendChatMessage: text, news (a link), image/video/file with a media_id this service makes
from the stored file (wecom/media.py, kept per file and app for under three days), or a mini-program. A
send counts one use (使用次数).

The reads and the counts are the admin API's own (web/api_knowledge.py, web/api_materials.py) with the
signed-in member as `g.principal`: the member sees the corp's library and their own, nobody else's."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, render_template
from pydantic import Field
from sqlalchemy import select

from models import KnowledgeItem, Material
from models.library import Section
from storage import storage
from web.api_knowledge import count_use as count_reply_use
from web.api_knowledge import knowledge_rows
from web.api_library_categories import tree
from web.api_materials import count_use as count_material_use
from web.api_materials import file_response, live_material, material_rows
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import Out
from web.schemas.library import CategoryOut, KnowledgeQuery, MaterialQuery, UseOut
from web.sidebar import session
from web.sidebar.blueprint import bp
from wecom.client import WeComError
from wecom.media import media_id

LIMIT = 200
SENDABLE_FILES = ("image", "video", "file")
"""What sendChatMessage takes as a media_id (no voice)."""


class Brief(Out):
    id: int
    kind: str
    title: str
    text: str
    url: str | None = None
    appid: str | None = None
    page: str | None = None
    pic_url: str | None = None
    media_id: str | None = None
    filename: str | None = None
    size: int | None = None
    has_file: bool = False
    thumb: str | None = None
    category_id: int | None = None
    uses: int = 0
    attachments: list[int] = []


class Library(Out):
    categories: list[CategoryOut]
    items: list[Brief]
    materials: list[Brief] = Field([], description="the materials the items attach, by id")


class MediaOut(Out):
    media_id: str


def _runtime() -> Any:
    return current_app.extensions["scrm"]


def material_brief(m: Material) -> dict[str, Any]:
    p = m.payload or {}
    return {"id": m.id, "kind": m.kind, "title": m.title or m.filename or "",
            "text": p.get("text") or p.get("desc", ""), "url": p.get("url"), "appid": p.get("appid"),
            "page": p.get("page"), "pic_url": p.get("pic_url") or p.get("picurl"), "media_id": p.get("media_id"),
            "filename": m.filename, "size": m.size, "has_file": bool(m.storage_key), "category_id": m.category_id,
            "uses": m.uses,
            "thumb": f"/sidebar/api/materials/{m.id}/file" if m.storage_key and m.kind == "image" else None}


def reply_brief(k: KnowledgeItem) -> dict[str, Any]:
    return {"id": k.id, "kind": k.kind, "title": k.question or k.answer[:30], "text": k.answer, "url": k.url,
            "category_id": k.category_id, "uses": k.uses, "attachments": list(k.attachments)}


@bp.get("/quick-replies")
@session.page
def quick_replies_page() -> Any:
    return render_template("sidebar/quick_replies.html", csrf=g.sidebar.csrf)


@bp.get("/materials")
@session.page
def materials_page() -> Any:
    return render_template("sidebar/materials.html", csrf=g.sidebar.csrf)


@bp.get("/api/quick-replies")
@session.api
@endpoint("One library of quick replies (the corp's or mine) with its category tree, searched", query=KnowledgeQuery,
          response=Library)
def quick_replies(query: KnowledgeQuery) -> Any:
    me = g.sidebar
    section = query.kind or Section.qa.value
    query = query.model_copy(update={"kind": section})
    with _runtime().Session() as s:
        items = list(s.scalars(knowledge_rows(s, query).where(KnowledgeItem.enabled.is_(True)).limit(LIMIT)))
        attached = {m for k in items for m in k.attachments}
        materials = s.scalars(select(Material).where(Material.id.in_(attached), Material.corp_id == me.corp_id,
                                                     Material.deleted_at.is_(None))) if attached else []
        return jsonify({"categories": tree(s, me.corp_id, section, me.userid if query.mine else None),
                        "items": [reply_brief(k) for k in items], "materials": [material_brief(m) for m in materials]})


@bp.post("/api/quick-replies/<id:item_pk>/uses")
@session.api
@endpoint("Count one use of a quick reply (sent)", response=UseOut)
def quick_reply_used(item_pk: int) -> Any:
    return jsonify(count_reply_use(item_pk))


@bp.get("/api/materials")
@session.api
@endpoint("The material library with its category tree, searched and filtered by kind", query=MaterialQuery,
          response=Library)
def materials(query: MaterialQuery) -> Any:
    with _runtime().Session() as s:
        rows = list(s.scalars(material_rows(s, query).limit(LIMIT)))
        return jsonify({"categories": tree(s, g.sidebar.corp_id, Section.material.value, None),
                        "items": [material_brief(m) for m in rows]})


@bp.get("/api/materials/<id:material_id>/file")
@session.api
@endpoint("An uploaded material's file (an image's thumbnail)", response=bytes)
def material_file(material_id: int) -> Any:
    return file_response(material_id)


@bp.post("/api/materials/<id:material_id>/media")
@session.api
@endpoint("The WeCom media_id to send a material's image, video or file with (uploaded at most once per "
          "three days)", response=MediaOut)
def material_media(material_id: int) -> Any:
    me = g.sidebar
    with _runtime().Session() as s:
        row = live_material(s, material_id)
    if not row.storage_key:
        if row.payload.get("media_id"):
            return jsonify({"media_id": row.payload["media_id"]})
        raise ApiError(422, "invalid", f"material {material_id} has no file to send")
    if row.kind not in SENDABLE_FILES:
        raise ApiError(422, "invalid", f"a {row.kind} cannot be sent from the sidebar")
    store = storage(_runtime())

    def read() -> bytes:
        with store.open(row.storage_key) as f:  # type: ignore[arg-type]
            return f.read()

    try:
        found = media_id(_runtime().client_for_app(me.app_pk), me.app_pk, row.storage_key, row.kind,
                         row.filename or "material", row.content_type or "application/octet-stream", read)
    except WeComError as exc:
        raise ApiError(502, "wecom_unavailable", f"WeCom did not take the file ({exc.errcode})") from None
    return jsonify({"media_id": found})


@bp.post("/api/materials/<id:material_id>/uses")
@session.api
@endpoint("Count one use of a material (sent)", response=UseOut)
def material_used(material_id: int) -> Any:
    return jsonify(count_material_use(material_id))
