"""The libraries' category trees over the admin API (004 §6.1.1.1.1: 分类 of 话术库, 常用语, 常用链接; §6.2 素材库):
list a tree, add, rename, move (`parent_id`), reorder (`sort`), delete. The rules are web/library_tree.py's:
at most 4 levels (a move that would push a subcategory past level 4 is refused too), names ≤ 30, and a
category with subcategories or items is a 409 that says what it holds. The root 全部 and 未分类 are not rows."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select

from models import LibraryCategory, Role
from web import errors
from web.api import _runtime
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.library_tree import category, contents, depth_under, owned, owner, release, relevel
from web.schemas.common import Deleted, Items
from web.schemas.library import CategoryChange, CategoryIn, CategoryOut, CategoryQuery
from web.scope import corp_and_app

bp = Blueprint("api_library_categories", __name__, url_prefix="/api/v1")
errors.register(bp)


def category_json(c: LibraryCategory) -> dict[str, Any]:
    return {"id": c.id, "section": c.section, "owner_userid": c.owner_userid, "parent_id": c.parent_id,
            "depth": c.depth, "name": c.name, "sort": c.sort}


def tree(s: Any, corp_id: str, section: str, owner_userid: str | None) -> list[dict[str, Any]]:
    """Every category of one tree, parents before children, siblings by 序号 then age."""
    rows = s.scalars(select(LibraryCategory).where(
        LibraryCategory.corp_id == corp_id, LibraryCategory.section == section,
        owned(LibraryCategory.owner_userid, owner_userid),
    ).order_by(LibraryCategory.depth, LibraryCategory.sort, LibraryCategory.id))
    return [category_json(c) for c in rows]


@bp.get("/library-categories")
@require(Role.member)
@endpoint("One category tree: the corp's or (mine) the caller's, of 话术库, 常用语, 常用链接 or 素材库",
          query=CategoryQuery, response=Items[CategoryOut])
def list_categories(query: CategoryQuery) -> Any:
    who = owner(query.mine, write=False)
    with _runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        return jsonify({"items": tree(s, corp_id, query.section, who)})


@bp.post("/library-categories")
@require(Role.member)
@endpoint("Add a category (levels ≤ 4, name ≤ 30); the corp's library needs an admin",
          body=CategoryIn, response=CategoryOut, status=201)
def create_category(body: CategoryIn) -> Any:
    who = owner(body.mine, write=True)
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        parent = None
        if body.parent_id:
            parent = s.get(LibraryCategory, body.parent_id)
            if parent is None or (parent.corp_id, parent.section, parent.owner_userid) != (corp_id, body.section, who):
                raise ApiError(422, "invalid", f"parent_id: no category {body.parent_id} in this library",
                               {"parent_id": "not a category of this library and section"})
        row = LibraryCategory(corp_id=corp_id, section=body.section, owner_userid=who, name=body.name,
                              parent_id=parent.id if parent else None, depth=depth_under(s, parent, None),
                              sort=body.sort)
        s.add(row)
        s.flush()
        audit(s, "library_category.create", f"library_category:{row.id}", name=row.name, section=row.section)
        return jsonify(category_json(row)), 201


@bp.patch("/library-categories/<id:category_id>")
@require(Role.member)
@endpoint("Rename, move (parent_id; 0: to the root) or reorder (sort) a category", body=CategoryChange,
          response=CategoryOut)
def update_category(category_id: int, body: CategoryChange) -> Any:
    fields = body.model_dump(exclude_none=True)
    if not fields:
        raise ApiError(422, "invalid", "the category has errors", {"body": "give name, parent_id or sort"})
    with _runtime().WriteSession.begin() as s:
        row = category(s, category_id, write=True)
        if body.parent_id is not None:
            parent = None
            if body.parent_id:
                parent = s.get(LibraryCategory, body.parent_id)
                if parent is None or (parent.corp_id, parent.section, parent.owner_userid) != (
                        row.corp_id, row.section, row.owner_userid):
                    raise ApiError(422, "invalid", f"parent_id: no category {body.parent_id} in this tree",
                                   {"parent_id": "not a category of the same tree"})
            relevel(s, row, depth_under(s, parent, row))
            row.parent_id = parent.id if parent else None
        if body.name is not None:
            row.name = body.name
        if body.sort is not None:
            row.sort = body.sort
        audit(s, "library_category.update", f"library_category:{row.id}", **fields)
        s.flush()
        return jsonify(category_json(row))


@bp.delete("/library-categories/<id:category_id>")
@require(Role.member)
@endpoint("Delete an empty category (409 while it holds subcategories or items)", response=Deleted)
def delete_category(category_id: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        row = category(s, category_id, write=True)
        held = contents(s, row)
        if any(held.values()):
            raise ApiError(409, "conflict", f"请先删除该分类下的子分类和内容: category {row.id} holds "
                                            f"{held['subcategories']} subcategories and {held['items']} items")
        release(s, row)
        s.delete(row)
        audit(s, "library_category.delete", f"library_category:{category_id}", name=row.name)
    return jsonify({"id": category_id, "deleted": True})
