"""The knowledge base (知识库, 004 §6.1) over the admin API: the corp's library and each member's own, each
with 话术库 (`qa`: question, 相似问, answer ≤ 300, attachments), 常用语 (`phrase`: the answer alone) and 常用链接
(`link`: a name and a url), filed in the category trees of web/api_library_categories.py.

The paths are the ones the customer-service bot's knowledge base always had (/kf/knowledge): it is the same
library, and the bot answers only from the corp's enabled `qa` items (handlers/kf.py). Reading the corp's
library is for every role, changing it for admins; a member changes only their own (`mine`), and another
member's items are a 404 to everyone. The sidebar counts each send (`POST …/uses`, 使用次数)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from models import KnowledgeItem, Material, Role
from models.db import utcnow
from web import errors
from web.api import _like, _runtime, page
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web import library_tree
from web.library_tree import check_row, filed, owned, owner, placed
from web.schemas.common import DeletedId, Page
from web.schemas.library import KnowledgeChange, KnowledgeIn, KnowledgeOut, KnowledgeQuery, UseOut
from web.scope import corp_and_app

bp = Blueprint("api_knowledge", __name__, url_prefix="/api/v1")
errors.register(bp)

NEEDS = {"qa": ("question", "answer"), "phrase": ("answer",), "link": ("question", "url")}


def keyword_filter(keyword: str) -> Any:
    """Items whose question, answer or a similar question holds `keyword`. `similar` is stored as JSON
    text with non-ASCII escaped (\\uXXXX), so it is matched in that spelling."""
    escaped = json.dumps(keyword)[1:-1]
    return or_(KnowledgeItem.question.like(_like(keyword), escape="\\"),
               KnowledgeItem.answer.like(_like(keyword), escape="\\"),
               cast(KnowledgeItem.similar, Text).like(_like(escaped), escape="\\"))


def knowledge_rows(s: Session, query: KnowledgeQuery) -> Any:
    """The items a list or the sidebar shows: one library (the corp's or the caller's own), newest 序号 order."""
    who = owner(query.mine, write=False)
    rows = select(KnowledgeItem).where(
        KnowledgeItem.deleted_at.is_(None), KnowledgeItem.corp_id == g.principal.corp_id if g.principal.corp_id
        else KnowledgeItem.corp_id.is_not(None),
        owned(KnowledgeItem.owner_userid, who))
    if query.kind:
        rows = rows.where(KnowledgeItem.kind == query.kind)
    in_category = filed(s, KnowledgeItem.category_id, query.category_id)
    if in_category is not None:
        rows = rows.where(in_category)
    if query.keyword:
        rows = rows.where(keyword_filter(query.keyword))
    return rows.order_by(KnowledgeItem.sort, KnowledgeItem.id)


def live_item(s: Session, item_pk: int, write: bool) -> KnowledgeItem:
    item = s.get(KnowledgeItem, item_pk)
    check_row(item, "knowledge item", item_pk, write)
    return item  # type: ignore[return-value]


def _checked(s: Session, item: KnowledgeItem, fields: dict[str, Any]) -> None:
    """Apply `fields` to `item` and refuse (422) what its kind lacks, a category of another tree, or an
    attachment that is not a live material of the corp."""
    if "category_id" in fields:
        fields["category_id"] = placed(s, fields["category_id"], item.corp_id, item.kind, item.owner_userid)
    if fields.get("attachments"):
        known = set(s.scalars(select(Material.id).where(Material.id.in_(fields["attachments"]),
                                                        Material.corp_id == item.corp_id,
                                                        Material.deleted_at.is_(None))))
        unknown = [m for m in fields["attachments"] if m not in known]
        if unknown:
            raise ApiError(422, "invalid", f"attachments: no material {unknown[0]}", {"attachments": "unknown ids"})
    for key, value in fields.items():
        setattr(item, key, value)
    missing = [k for k in NEEDS[item.kind] if not getattr(item, k)]
    if missing:
        raise ApiError(422, "invalid", f"a {item.kind} item needs {', '.join(missing)}",
                       {k: "required for this kind" for k in missing})


@bp.get("/kf/knowledge")
@require(Role.member)
@endpoint("Knowledge base (知识库): the corp's or (mine) the caller's 话术库, 常用语, 常用链接; search, filter",
          query=KnowledgeQuery, response=Page[KnowledgeOut])
def list_knowledge(query: KnowledgeQuery) -> Any:
    with _runtime().Session() as s:
        rows = knowledge_rows(s, query)
    return page(rows, KnowledgeItem.public, query)


@bp.post("/kf/knowledge")
@require(Role.member)
@endpoint("Add a 话术 (question, similar, answer), 常用语 (answer) or 常用链接 (question as name, url)",
          body=KnowledgeIn, response=KnowledgeOut, status=201)
def create_knowledge(body: KnowledgeIn) -> Any:
    who = owner(body.mine, write=True)
    fields = body.model_dump(mode="json", exclude_none=True, exclude={"corp_id", "mine", "kind"})
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        item = KnowledgeItem(corp_id=corp_id, kind=body.kind, owner_userid=who, question="", answer="")
        _checked(s, item, fields)
        s.add(item)
        s.flush()
        audit(s, "knowledge.create", f"knowledge:{item.id}", kind=item.kind, question=item.question)
        out = item.public()
    return jsonify(out), 201


@bp.patch("/kf/knowledge/<id:item_pk>")
@require(Role.member)
@endpoint("Change a knowledge item (the corp's: admins; your own: you)", body=KnowledgeChange,
          response=KnowledgeOut)
def update_knowledge(item_pk: int, body: KnowledgeChange) -> Any:
    fields = body.model_dump(mode="json", exclude_none=True)
    if not fields:
        raise ApiError(422, "invalid", "the knowledge item has errors",
                       {"body": "give question, similar, answer, url, category, category_id, attachments, sort or "
                                "enabled"})
    with _runtime().WriteSession.begin() as s:
        item = live_item(s, item_pk, write=True)
        _checked(s, item, fields)
        audit(s, "knowledge.update", f"knowledge:{item.id}", **fields)
        s.flush()
        out = item.public()
    return jsonify(out)


@bp.delete("/kf/knowledge/<id:item_pk>")
@require(Role.member)
@endpoint("Delete a knowledge item", response=DeletedId)
def delete_knowledge(item_pk: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        item = live_item(s, item_pk, write=True)
        item.deleted_at = utcnow()
        audit(s, "knowledge.delete", f"knowledge:{item.id}")
    return jsonify({"deleted": item_pk})


def count_use(item_pk: int) -> dict[str, int]:
    """One more 使用次数 of an item the caller may see (sent from the sidebar)."""
    return library_tree.count_use(_runtime(), KnowledgeItem, item_pk, "knowledge",
                                  lambda s, pk: live_item(s, pk, write=False))


@bp.post("/kf/knowledge/<id:item_pk>/uses")
@require(Role.member)
@endpoint("Count one use (使用次数) of a knowledge item", response=UseOut)
def use_knowledge(item_pk: int) -> Any:
    return jsonify(count_use(item_pk))
