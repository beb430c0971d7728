"""Whose library a request works on, and the category tree rules both libraries share (004 §6.1.1.1.1):
at most 4 levels, names at most 30 characters, a category with subcategories or content cannot be deleted.

A library is the corp's (owner None) or one member's (owner = their userid). Everyone of the corp reads
the corp's; only an admin (or higher) changes it. A personal library is seen and changed by its owner only:
another member's category or item is a 404, as absent, whatever the caller's role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from models import KnowledgeItem, LibraryCategory, Material, Role
from models.library import MAX_DEPTH, Section
from web.auth import RANK, audit
from web.errors import ApiError
from web.scope import in_scope


def owner(mine: bool, write: bool) -> str | None:
    """The owner of the library a request names: the caller's userid for `mine`, else None (the corp's).
    403 for a write to the corp's library below admin; 422 for `mine` with a token of no member."""
    if mine:
        if not g.principal.userid:
            raise ApiError(422, "invalid", "mine: a personal library needs a member's token (one with a userid)",
                           {"mine": "this token names no member"})
        return str(g.principal.userid)
    if write and RANK[g.principal.role] < RANK[Role.admin.value]:
        raise ApiError(403, "forbidden", "the corp's library is changed by admins: use mine=true for your own")
    return None


def owned(column: Any, owner_userid: str | None) -> Any:
    """The rows of one library: the corp's (None) or one member's."""
    return column.is_(None) if owner_userid is None else column == owner_userid


def check_row(row: Any, what: str, pk: int, write: bool) -> None:
    """404 unless the caller may see `row` (their corp; the corp's or their own library); 403 for a write
    to the corp's library below admin."""
    if row is None or getattr(row, "deleted_at", None) is not None or not in_scope(row.corp_id) \
            or row.owner_userid not in (None, g.principal.userid):
        raise ApiError(404, "not_found", f"no {what} {pk}")
    if row.owner_userid is None:
        owner(False, write)


def category(s: Session, pk: int, write: bool = False) -> LibraryCategory:
    row = s.get(LibraryCategory, pk)
    check_row(row, "category", pk, write)
    return row  # type: ignore[return-value]


def placed(s: Session, category_id: int | None, corp_id: str, section: str, owner_userid: str | None) -> int | None:
    """`category_id` if it is a category of this very tree (0 or None: 未分类), else 422."""
    if not category_id:
        return None
    row = s.get(LibraryCategory, category_id)
    if row is None or (row.corp_id, row.section, row.owner_userid) != (corp_id, section, owner_userid):
        raise ApiError(422, "invalid", f"category_id: no category {category_id} in this library",
                       {"category_id": "not a category of this library and kind"})
    return row.id


def subtree_height(s: Session, row: LibraryCategory) -> int:
    """Levels at and below `row` (1 for a leaf)."""
    children = list(s.scalars(select(LibraryCategory).where(LibraryCategory.parent_id == row.id)))
    return 1 + max((subtree_height(s, c) for c in children), default=0)


def depth_under(s: Session, parent: LibraryCategory | None, row: LibraryCategory | None) -> int:
    """The depth `row` (or a new category) takes under `parent` (None: the root); 422 when it or its
    subcategories would pass level 4, or when `parent` is `row` itself or below it."""
    depth = parent.depth + 1 if parent else 1
    height = subtree_height(s, row) if row is not None else 1
    at = parent
    while at is not None and row is not None:
        if at.id == row.id:
            raise ApiError(422, "invalid", "parent_id: a category cannot move under itself",
                           {"parent_id": "the category itself or one below it"})
        at = s.get(LibraryCategory, at.parent_id) if at.parent_id else None
    if depth + height - 1 > MAX_DEPTH:
        raise ApiError(422, "invalid", f"parent_id: categories go at most {MAX_DEPTH} levels deep",
                       {"parent_id": f"this would make level {depth + height - 1}"})
    return depth


def relevel(s: Session, row: LibraryCategory, depth: int) -> None:
    row.depth = depth
    for child in s.scalars(select(LibraryCategory).where(LibraryCategory.parent_id == row.id)):
        relevel(s, child, depth + 1)


def contents(s: Session, row: LibraryCategory) -> dict[str, int]:
    """What keeps `row` from being deleted: its subcategories and the items filed in it."""
    items: Select = (select(func.count()).select_from(Material).where(Material.category_id == row.id,
                                                                      Material.deleted_at.is_(None))
                     if row.section == Section.material else
                     select(func.count()).select_from(KnowledgeItem).where(KnowledgeItem.category_id == row.id,
                                                                           KnowledgeItem.deleted_at.is_(None)))
    return {"subcategories": s.scalar(select(func.count()).select_from(LibraryCategory)
                                      .where(LibraryCategory.parent_id == row.id)) or 0,
            "items": s.scalar(items) or 0}


def below(s: Session, pk: int) -> list[int]:
    """`pk` and every category under it."""
    found, level = [pk], [pk]
    while level:
        level = list(s.scalars(select(LibraryCategory.id).where(LibraryCategory.parent_id.in_(level))))
        found += level
    return found


def filed(s: Session, column: Any, category_id: int | None) -> Any:
    """The filter for items in `category_id` and below (0: 未分类), or None when no category is asked for."""
    if category_id is None:
        return None
    return column.is_(None) if category_id == 0 else column.in_(below(s, category_id))


def release(s: Session, row: LibraryCategory) -> None:
    """Unfile the deleted items still pointing at `row` (kept for the recycle and audit trail), so the
    empty category itself can go."""
    model = Material if row.section == Section.material else KnowledgeItem
    s.execute(update(model).where(model.category_id == row.id).values(category_id=None)
              .execution_options(synchronize_session=False))



def count_use(runtime: Any, model: Any, pk: int, what: str, lookup: Callable[[Session, int], Any]) -> dict[str, int]:
    """One more 使用次数 of row `pk` (sent from the sidebar), found by `lookup` (its 404 for a row the caller
    may not see), counted by one atomic UPDATE; the count after it."""
    with runtime.WriteSession.begin() as s:
        row = lookup(s, pk)
        s.execute(update(model).where(model.id == row.id).values(uses=model.uses + 1)
                  .execution_options(synchronize_session=False))
        audit(s, f"{what}.use", f"{what}:{row.id}")
    with runtime.Session() as s:
        return {"id": pk, "uses": s.scalar(select(model.uses).where(model.id == pk)) or 0}
