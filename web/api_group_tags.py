"""Group tags (群标签, 004 §4.6.2) over the admin API: our own tag library for customer groups (WeCom has
none, so every change is ours and immediate), and tagging many groups at once.

The corp tags' rules hold (web/schemas/tags.py: names of 1 to 30 characters; a new tag group comes with at
least one tag, names differ within it; group names differ within the corp), and so do the manual's guards:
a tag group that still holds tags is not deleted (请先移除标签组下标签再进行删除), nor a tag on a group
(该标签正在使用中，不支持删除). An exclusive (互斥) tag group puts at most one of its tags on a group: tagging
with one replaces the other. Admins keep the library; members tag the groups they see (web/group_scope.py).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from models import CustomerGroup, GroupTag, GroupTagging, GroupTagGroup, Role
from web import errors
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.group_scope import group_rows
from web.sales_scope import runtime
from web.schemas.common import CorpQuery, DeletedId, Items
from web.schemas.groups import (GroupTagChange, GroupTagGroupChange, GroupTagGroupIn, GroupTagGroupOut, GroupTagIn,
                                GroupTaggingBody, GroupTaggingOut, GroupTagOut)
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_group_tags", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_GROUP_TAGS = 3000  # as for corp tags (web/api_tags.py MAX_CORP_TAGS)
IN_USE = "该标签正在使用中，不支持删除 (the tag is on customer groups)"
NOT_EMPTY = "请先移除标签组下标签再进行删除 (the tag group still holds tags)"


def _counts(s: Session, tag_ids: list[int]) -> Counter[int]:
    rows = s.execute(select(GroupTagging.tag_id, func.count()).where(GroupTagging.tag_id.in_(tag_ids))
                     .group_by(GroupTagging.tag_id))
    return Counter(dict(rows.all()))


def _tag_json(t: GroupTag, used: Counter[int]) -> dict[str, Any]:
    return {"id": t.id, "tag_group_id": t.tag_group_id, "name": t.name, "order": t.order, "colour": t.colour,
            "description": t.description, "groups": used[t.id]}


def _group_json(grp: GroupTagGroup, used: Counter[int]) -> dict[str, Any]:
    return {"id": grp.id, "corp_id": grp.corp_id, "name": grp.name, "order": grp.order, "exclusive": grp.exclusive,
            "tags": [_tag_json(t, used) for t in grp.tags]}


def _row(s: Session, model: Any, pk: int, what: str) -> Any:
    row = s.get(model, pk)
    if row is None or not in_scope(row.corp_id):
        raise ApiError(404, "not_found", f"no {what} {pk}")
    return row


def _room(s: Session, corp_id: str, adding: int, field: str) -> None:
    count = s.scalar(select(func.count(GroupTag.id)).where(GroupTag.corp_id == corp_id)) or 0
    if count + adding > MAX_GROUP_TAGS:
        raise ApiError(422, "invalid", f"{field}: a corp has at most {MAX_GROUP_TAGS} group tags", {field: "too many"})


def _name_free(s: Session, query: Any, field: str, message: str) -> None:
    if s.scalar(query) is not None:
        raise ApiError(422, "invalid", f"{field}: {message}", {field: message})


# -- the library ------------------------------------------------------------------------------------------
@bp.get("/group-tag-groups")
@require(Role.member)
@endpoint("Group tag groups (群标签) with their tags and how many groups hold each", query=CorpQuery,
          response=Items[GroupTagGroupOut])
def list_tag_groups(query: CorpQuery) -> Any:
    rows = (select(GroupTagGroup).options(selectinload(GroupTagGroup.tags))
            .order_by(GroupTagGroup.order.desc(), GroupTagGroup.id))
    corp_id = g.principal.corp_id or query.corp_id
    if corp_id:
        rows = rows.where(GroupTagGroup.corp_id == corp_id)
    with runtime().Session() as s:
        groups = list(s.scalars(rows))
        used = _counts(s, [t.id for grp in groups for t in grp.tags])
        items = [_group_json(grp, used) for grp in groups]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/group-tag-groups")
@require(Role.admin)
@endpoint("Create a group tag group with its tags (names ≤ 30 characters, at least one tag)",
          body=GroupTagGroupIn, response=GroupTagGroupOut, status=201)
def create_tag_group(body: GroupTagGroupIn) -> Any:
    names = [t.name for t in body.tags]
    if len(set(names)) != len(names):
        raise ApiError(422, "invalid", "tags: tag names must differ within a group",
                       {"tags": "tag names must differ within a group"})
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _name_free(s, select(GroupTagGroup.id).where(GroupTagGroup.corp_id == corp_id,
                                                     GroupTagGroup.name == body.name),
                   "name", "a group tag group of that name exists")
        _room(s, corp_id, len(names), "tags")
        grp = GroupTagGroup(corp_id=corp_id, name=body.name, order=body.order, exclusive=body.exclusive)
        s.add(grp)
        s.flush()
        s.add_all([GroupTag(corp_id=corp_id, tag_group_id=grp.id, name=t.name, order=len(names) - i, colour=t.colour,
                            description=t.description) for i, t in enumerate(body.tags)])
        s.flush()
        s.refresh(grp)
        audit(s, "group_tag_group.create", f"group_tag_group:{grp.id}", name=grp.name, tags=names)
        return jsonify(_group_json(grp, _counts(s, [t.id for t in grp.tags]))), 201


@bp.patch("/group-tag-groups/<id:tag_group_id>")
@require(Role.admin)
@endpoint("Rename a group tag group, move it (order) or make it exclusive (409 while a group holds two of "
          "its tags)", body=GroupTagGroupChange, response=GroupTagGroupOut)
def update_tag_group(tag_group_id: int, body: GroupTagGroupChange) -> Any:
    changes = body.model_dump(exclude_none=True)
    with runtime().WriteSession.begin() as s:
        grp = _row(s, GroupTagGroup, tag_group_id, "group tag group")
        if "name" in changes and changes["name"] != grp.name:
            _name_free(s, select(GroupTagGroup.id).where(GroupTagGroup.corp_id == grp.corp_id,
                                                         GroupTagGroup.name == changes["name"]),
                       "name", "a group tag group of that name exists")
        if changes.get("exclusive") and not grp.exclusive:
            doubled = s.scalar(select(GroupTagging.group_id).join(GroupTag).where(GroupTag.tag_group_id == grp.id)
                               .group_by(GroupTagging.group_id).having(func.count() > 1).limit(1))
            if doubled is not None:
                raise ApiError(409, "conflict", "exclusive: some customer group holds several of its tags",
                               {"exclusive": "a customer group holds several of its tags"})
        for key, value in changes.items():
            setattr(grp, key, value)
        audit(s, "group_tag_group.update", f"group_tag_group:{grp.id}", **changes)
        s.flush()
        return jsonify(_group_json(grp, _counts(s, [t.id for t in grp.tags])))


@bp.delete("/group-tag-groups/<id:tag_group_id>")
@require(Role.admin)
@endpoint("Delete an empty group tag group (409 while it holds tags)", response=DeletedId)
def delete_tag_group(tag_group_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        grp = _row(s, GroupTagGroup, tag_group_id, "group tag group")
        if grp.tags:
            raise ApiError(409, "conflict", NOT_EMPTY)
        audit(s, "group_tag_group.delete", f"group_tag_group:{grp.id}", name=grp.name)
        s.delete(grp)
        return jsonify({"deleted": tag_group_id})


@bp.post("/group-tag-groups/<id:tag_group_id>/tags")
@require(Role.admin)
@endpoint("Add a tag to a group tag group", body=GroupTagIn, response=GroupTagOut, status=201)
def create_tag(tag_group_id: int, body: GroupTagIn) -> Any:
    with runtime().WriteSession.begin() as s:
        grp = _row(s, GroupTagGroup, tag_group_id, "group tag group")
        _name_free(s, select(GroupTag.id).where(GroupTag.tag_group_id == grp.id, GroupTag.name == body.name),
                   "name", "a tag of that name is in the group")
        _room(s, grp.corp_id, 1, "name")
        tag = GroupTag(corp_id=grp.corp_id, tag_group_id=grp.id, name=body.name, order=body.order,
                       colour=body.colour, description=body.description)
        s.add(tag)
        s.flush()
        audit(s, "group_tag.create", f"group_tag:{tag.id}", name=tag.name, tag_group_id=grp.id)
        return jsonify(_tag_json(tag, Counter())), 201


@bp.patch("/group-tags/<id:group_tag_id>")
@require(Role.admin)
@endpoint("Rename a group tag, or set its colour, description or order", body=GroupTagChange,
          response=GroupTagOut)
def update_tag(group_tag_id: int, body: GroupTagChange) -> Any:
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise ApiError(422, "invalid", "body: give name, colour, description or order",
                       {"body": "give name, colour, description or order"})
    with runtime().WriteSession.begin() as s:
        tag = _row(s, GroupTag, group_tag_id, "group tag")
        if "name" in changes and changes["name"] != tag.name:
            _name_free(s, select(GroupTag.id).where(GroupTag.tag_group_id == tag.tag_group_id,
                                                    GroupTag.name == changes["name"]),
                       "name", "a tag of that name is in the group")
        for key, value in changes.items():
            setattr(tag, key, value)
        audit(s, "group_tag.update", f"group_tag:{tag.id}", **changes)
        s.flush()
        return jsonify(_tag_json(tag, _counts(s, [tag.id])))


@bp.delete("/group-tags/<id:group_tag_id>")
@require(Role.admin)
@endpoint("Delete a group tag no group holds (409 while one does)", response=DeletedId)
def delete_tag(group_tag_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        tag = _row(s, GroupTag, group_tag_id, "group tag")
        if _counts(s, [tag.id])[tag.id]:
            raise ApiError(409, "conflict", IN_USE)
        audit(s, "group_tag.delete", f"group_tag:{tag.id}", name=tag.name)
        s.delete(tag)
        return jsonify({"deleted": group_tag_id})


# -- tagging groups ---------------------------------------------------------------------------------------
def _tags(s: Session, corp_id: str, pks: list[int], key: str) -> list[GroupTag]:
    tags = list(s.scalars(select(GroupTag).options(selectinload(GroupTag.group))
                          .where(GroupTag.corp_id == corp_id, GroupTag.id.in_(pks))))
    missing = set(pks) - {t.id for t in tags}
    if missing:
        raise ApiError(422, "invalid", f"{key}: unknown group tag {', '.join(map(str, sorted(missing)))}",
                       {key: "unknown group tag"})
    return tags


@bp.post("/groups/tags")
@require(Role.member)
@endpoint("Add and remove group tags on many customer groups at once (members: groups they see)",
          body=GroupTaggingBody, response=GroupTaggingOut)
def tag_groups(body: GroupTaggingBody) -> Any:
    """All or nothing: a chat id the caller cannot see is a 404 naming it, an unknown tag a 422 naming
    `add` or `remove`, two tags of one exclusive tag group in `add` a 422. A tag already on a group stays;
    adding a tag of an exclusive group takes that group's other tags off."""
    if not body.add and not body.remove:
        raise ApiError(422, "invalid", "add: add or remove at least one tag", {"add": "add or remove at least one tag"})
    if set(body.add) & set(body.remove):
        raise ApiError(422, "invalid", "remove: a tag both added and removed", {"remove": "also in add"})
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        wanted = set(body.chat_ids)
        groups = list(s.scalars(group_rows().where(CustomerGroup.corp_id == corp_id,
                                                   CustomerGroup.chat_id.in_(wanted))))
        missing = wanted - {grp.chat_id for grp in groups}
        if missing:
            raise ApiError(404, "not_found", f"chat_ids: no group {', '.join(sorted(missing))}",
                           {"chat_ids": "no such group"})
        add, remove = _tags(s, corp_id, body.add, "add"), _tags(s, corp_id, body.remove, "remove")
        exclusive = Counter(t.tag_group_id for t in add if t.group.exclusive)
        if any(n > 1 for n in exclusive.values()):
            raise ApiError(422, "invalid", "add: two tags of one exclusive (互斥) tag group",
                           {"add": "at most one tag of an exclusive tag group"})
        ids = [grp.id for grp in groups]
        add_ids = {t.id for t in add}
        replaced = set(s.scalars(select(GroupTag.id).where(GroupTag.tag_group_id.in_(exclusive),
                                                           GroupTag.id.not_in(add_ids))))
        off = {t.id for t in remove} | replaced
        removed = s.execute(delete(GroupTagging).where(GroupTagging.group_id.in_(ids), GroupTagging.tag_id.in_(off))
                            ).rowcount if off else 0
        have = {(gid, tid) for gid, tid in s.execute(select(GroupTagging.group_id, GroupTagging.tag_id).where(
            GroupTagging.group_id.in_(ids), GroupTagging.tag_id.in_(add_ids)))}
        actor = f"token:{g.principal.name}"
        new = [GroupTagging(group_id=gid, tag_id=tid, tagged_by=actor) for gid in ids for tid in sorted(add_ids)
               if (gid, tid) not in have]
        s.add_all(new)
        audit(s, "group.tag", f"corp:{corp_id}", chat_ids=sorted(wanted), add=sorted(add_ids),
              remove=sorted(off))
        return jsonify({"groups": len(groups), "added": len(new), "removed": removed})
