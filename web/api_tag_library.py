"""Admin API for the tag library's maintenance (manual 4.6.1, 9.2.1): tags added to an existing group, a
group renamed, reordered or made exclusive (互斥), and bulk tag/untag of selected customers as one job.

Like web/api_tags.py, WeCom's changes are outbox rows answered 202 (add_corp_tag, edit_corp_tag, mark_tag);
our own flags (exclusive) change at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.registry import HandlerContext
from handlers.tags import is_pending, pending_id
from models import Outbox, Role, Tag, TagGroup
from web import errors
from web.api_tags import MAX_CORP_TAGS, _enqueue_after_commit, _group_json, _runtime, plan_corp_tag_edit
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.tags import TagGroupChange, TagGroupOut, TagsIn
from web.scope import corp_and_app

bp = Blueprint("api_tag_library", __name__, url_prefix="/api/v1")
errors.register(bp)


def _live_group(s: Session, group_pk: int) -> TagGroup:
    group = s.get(TagGroup, group_pk)
    if group is None or group.deleted_at is not None or (g.principal.corp_id and group.corp_id != g.principal.corp_id):
        raise ApiError(404, "not_found", f"no tag group {group_pk}")
    return group


def _answer(group_pk: int, status: int) -> Any:
    with _runtime().Session() as s:
        return jsonify(_group_json(s.get_one(TagGroup, group_pk))), status


@bp.post("/tag-groups/<id:group_pk>/tags")
@require(Role.admin)
@endpoint("Add tags to an existing tag group (202: add_corp_tag with its group_id)", body=TagsIn,
          response=TagGroupOut, status=202)
def add_tags(group_pk: int, body: TagsIn) -> Any:
    names = [t.name for t in body.tags]
    with _runtime().WriteSession.begin() as s:
        group = _live_group(s, group_pk)
        if is_pending(group.group_id):
            raise ApiError(409, "conflict", "the group is still being created in WeCom")
        taken = {t.name for t in group.tags if t.deleted_at is None}
        if len(set(names)) != len(names) or taken & set(names):
            raise ApiError(422, "invalid", "the tags have errors", {"tags": "names must differ within the group"})
        count = s.scalar(select(func.count()).select_from(Tag).where(Tag.corp_id == group.corp_id,
                                                                     Tag.deleted_at.is_(None))) or 0
        if count + len(names) > MAX_CORP_TAGS:
            raise ApiError(422, "invalid", f"a corp has at most {MAX_CORP_TAGS} tags", {"tags": "too many"})
        top = max((t.order for t in group.tags), default=0)
        for i, tag in enumerate(body.tags):
            s.add(Tag(corp_id=group.corp_id, tag_id=pending_id(), group_pk=group.id, name=tag.name,
                      order=top + len(body.tags) - i, colour=tag.colour, description=tag.description))
        s.flush()
        _, app_pk = corp_and_app(s, group.corp_id)
        row = HandlerContext(session=s, corp_id=group.corp_id, app_pk=app_pk).outbox(
            "create_tags", {"app_pk": app_pk, "group_pk": group.id}, key=f"create_tags:{group.id}:{uuid.uuid4().hex}")
        audit(s, "tag_group.add_tags", f"tag_group:{group.id}", tags=names)
    _enqueue_after_commit([row])
    return _answer(group_pk, 202)


@bp.patch("/tag-groups/<id:group_pk>")
@require(Role.admin)
@endpoint("Rename or reorder a tag group (202: edit_corp_tag) or make it exclusive (互斥)", body=TagGroupChange,
          response=TagGroupOut, status=202)
def update_group(group_pk: int, body: TagGroupChange) -> Any:
    given = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if not given:
        raise ApiError(422, "invalid", "the tag group has errors", {"body": "give name, order or exclusive"})
    rows: list[Outbox] = []
    with _runtime().WriteSession.begin() as s:
        group = _live_group(s, group_pk)
        taken = select(TagGroup.id).where(TagGroup.corp_id == group.corp_id, TagGroup.name == given.get("name"),
                                          TagGroup.id != group.id, TagGroup.deleted_at.is_(None))
        row, _ = plan_corp_tag_edit(s, group, group.group_id, given, "edit_tag_group", "group_pk", "tag group",
                                    lambda: s.scalar(taken) is not None)
        if row is not None:
            rows.append(row)
        if "exclusive" in given:
            group.exclusive = given["exclusive"]
        audit(s, "tag_group.update", f"tag_group:{group.id}", **given)
    _enqueue_after_commit(rows)
    return _answer(group_pk, 202 if rows else 200)
