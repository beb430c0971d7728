"""Admin API for customer tags (企业客户标签): the tag library, and tagging a customer.

The web layer never calls WeCom: a change WeCom must make (create, rename, delete, mark) is an outbox row
answered 202, and the job layer calls WeCom after commit and updates our rows (WeCom sends no callback for
API changes). Colour and description are ours and change at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from handlers.registry import HandlerContext
from handlers.tags import is_pending, pending_id
from jobs.queue import enqueue_outbox
from web.api import _json_object
from models import Customer, FollowRelation, FollowStatus, FollowTag, Outbox, Role, Tag, TagGroup
from web import errors
from web.auth import audit, require
from web.errors import ApiError
from web.scope import corp_and_app

bp = Blueprint("api_tags", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_NAME = 30  # WeCom: tag and group names are at most 30 characters
MAX_CORP_TAGS = 3000
MAX_COLOUR, MAX_DESCRIPTION = 16, 255


def _runtime() -> Any:
    return current_app.extensions["scrm"]


def _enqueue_after_commit(rows: list[Outbox]) -> None:
    enqueue_outbox((row.id, row.queue) for row in rows)


def _actor() -> str:
    principal = g.principal
    return principal.userid or f"token:{principal.name}"


def _tag_json(t: Tag) -> dict[str, Any]:
    return {"id": t.id, "tag_id": None if is_pending(t.tag_id) else t.tag_id, "name": t.name, "order": t.order,
            "colour": t.colour, "description": t.description, "pending": is_pending(t.tag_id)}


def _group_json(grp: TagGroup) -> dict[str, Any]:
    return {"id": grp.id, "corp_id": grp.corp_id, "group_id": None if is_pending(grp.group_id) else grp.group_id,
            "name": grp.name, "order": grp.order, "pending": is_pending(grp.group_id),
            "tags": [_tag_json(t) for t in sorted(grp.tags, key=lambda t: -t.order) if t.deleted_at is None]}


def _text_errors(body: dict[str, Any], where: str, problems: dict[str, str]) -> None:
    colour, description = body.get("colour", ""), body.get("description", "")
    if not isinstance(colour, str) or len(colour) > MAX_COLOUR:
        problems[f"{where}colour"] = f"a string of at most {MAX_COLOUR} characters"
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        problems[f"{where}description"] = f"a string of at most {MAX_DESCRIPTION} characters"


def _name_error(name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return "required"
    if len(name.strip()) > MAX_NAME:
        return f"at most {MAX_NAME} characters"
    return None


def _live_tag(s: Session, tag_pk: int) -> Tag:
    tag = s.get(Tag, tag_pk)
    principal = g.principal
    if tag is None or tag.deleted_at is not None or (principal.corp_id and tag.corp_id != principal.corp_id):
        raise ApiError(404, "not_found", f"no tag {tag_pk}")
    return tag


# -- the library ---------------------------------------------------------------------------------------------
@bp.get("/tag-groups")
@require(Role.member)
def list_groups() -> Any:
    query = (select(TagGroup).where(TagGroup.deleted_at.is_(None)).options(selectinload(TagGroup.tags))
             .order_by(TagGroup.order.desc(), TagGroup.id))
    if g.principal.corp_id:
        query = query.where(TagGroup.corp_id == g.principal.corp_id)
    with _runtime().Session() as s:
        return jsonify({"items": [_group_json(grp) for grp in s.scalars(query)]})


@bp.post("/tag-groups")
@require(Role.admin)
def create_group() -> Any:
    """A group with its tags (WeCom has no empty groups); pending until add_corp_tag gives them ids."""
    body = _json_object()
    problems: dict[str, str] = {}
    if err := _name_error(body.get("name")):
        problems["name"] = err
    tags = body.get("tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, dict) for t in tags):
        problems["tags"] = "at least one tag, each {name, colour?, description?}"
        tags = []
    names: list[str] = []
    for i, tag in enumerate(tags):
        if err := _name_error(tag.get("name")):
            problems[f"tags[{i}].name"] = err
        else:
            names.append(tag["name"].strip())
        _text_errors(tag, f"tags[{i}].", problems)
    if len(set(names)) != len(names):
        problems["tags"] = "tag names must differ within a group"
    if problems:
        raise ApiError(422, "invalid", "the tag group has errors", problems)
    name = body["name"].strip()
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.get("corp_id"))
        if s.scalar(select(TagGroup.id).where(TagGroup.corp_id == corp_id, TagGroup.name == name,
                                              TagGroup.deleted_at.is_(None))) is not None:
            raise ApiError(422, "invalid", "the tag group has errors", {"name": "a group of that name exists"})
        count = len(s.scalars(select(Tag.id).where(Tag.corp_id == corp_id, Tag.deleted_at.is_(None))).all())
        if count + len(names) > MAX_CORP_TAGS:
            raise ApiError(422, "invalid", f"a corp has at most {MAX_CORP_TAGS} tags", {"tags": "too many"})
        group = TagGroup(corp_id=corp_id, group_id=pending_id(), name=name, order=int(body.get("order") or 0))
        s.add(group)
        s.flush()
        for i, tag in enumerate(tags):
            s.add(Tag(corp_id=corp_id, tag_id=pending_id(), group_pk=group.id, name=tag["name"].strip(),
                      order=len(tags) - i, colour=tag.get("colour", ""), description=tag.get("description", "")))
        s.flush()
        ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)
        row = ctx.outbox("create_tags", {"app_pk": app_pk, "group_pk": group.id}, key=f"create_tags:{group.id}")
        audit(s, "tag_group.create", f"tag_group:{group.id}", name=name, tags=names)
        group_pk = group.id
    _enqueue_after_commit([row])
    with _runtime().Session() as s:
        return jsonify(_group_json(s.get(TagGroup, group_pk))), 202


@bp.patch("/tags/<id:tag_pk>")
@require(Role.admin)
def update_tag(tag_pk: int) -> Any:
    body = _json_object()
    problems: dict[str, str] = {}
    if "name" in body and (err := _name_error(body["name"])):
        problems["name"] = err
    _text_errors(body, "", problems)
    if not {"name", "colour", "description"} & set(body):
        problems["body"] = "give name, colour or description"
    if problems:
        raise ApiError(422, "invalid", "the tag has errors", problems)
    rows: list[Outbox] = []
    with _runtime().WriteSession.begin() as s:
        tag = _live_tag(s, tag_pk)
        changes: dict[str, Any] = {}
        for field in ("colour", "description"):
            if field in body and body[field] != getattr(tag, field):
                setattr(tag, field, body[field])
                changes[field] = body[field]
        name = body["name"].strip() if "name" in body else tag.name
        if name != tag.name:
            if is_pending(tag.tag_id):
                raise ApiError(409, "conflict", "the tag is still being created in WeCom")
            if s.scalar(select(Tag.id).where(Tag.group_pk == tag.group_pk, Tag.name == name, Tag.id != tag.id,
                                             Tag.deleted_at.is_(None))) is not None:
                raise ApiError(422, "invalid", "the tag has errors", {"name": "a tag of that name is in the group"})
            _, app_pk = corp_and_app(s, tag.corp_id)
            ctx = HandlerContext(session=s, corp_id=tag.corp_id, app_pk=app_pk)
            rows.append(ctx.outbox("edit_tag", {"app_pk": app_pk, "tag_pk": tag.id, "name": name},
                                   key=f"edit_tag:{tag.id}:{uuid.uuid4().hex}"))
            changes["name"] = name
        audit(s, "tag.update", f"tag:{tag.id}", **changes)
        body_out = {**_tag_json(tag), "name_pending": name if name != tag.name else None}
    _enqueue_after_commit(rows)
    with _runtime().Session() as s:
        return jsonify({**body_out, **_tag_json(s.get(Tag, tag_pk))}), 202 if rows else 200


def _delete(s: Session, corp_id: str, target: str, tag_ids: list[str], group_ids: list[str]) -> Outbox:
    _, app_pk = corp_and_app(s, corp_id)
    ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)
    audit(s, f"{target.split(':')[0]}.delete", target)
    return ctx.outbox("delete_tags", {"app_pk": app_pk, "tag_ids": tag_ids, "group_ids": group_ids},
                      key=f"delete_tags:{target}")


@bp.delete("/tags/<id:tag_pk>")
@require(Role.admin)
def delete_tag(tag_pk: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        tag = _live_tag(s, tag_pk)
        if is_pending(tag.tag_id):
            raise ApiError(409, "conflict", "the tag is still being created in WeCom")
        row = _delete(s, tag.corp_id, f"tag:{tag.id}", [tag.tag_id], [])
    _enqueue_after_commit([row])
    return jsonify({"id": tag_pk, "deleting": True}), 202


@bp.delete("/tag-groups/<id:group_pk>")
@require(Role.admin)
def delete_group(group_pk: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        group = s.get(TagGroup, group_pk)
        if group is None or group.deleted_at is not None or (
                g.principal.corp_id and group.corp_id != g.principal.corp_id):
            raise ApiError(404, "not_found", f"no tag group {group_pk}")
        if is_pending(group.group_id):
            raise ApiError(409, "conflict", "the group is still being created in WeCom")
        row = _delete(s, group.corp_id, f"tag_group:{group.id}", [], [group.group_id])
    _enqueue_after_commit([row])
    return jsonify({"id": group_pk, "deleting": True}), 202


@bp.post("/tags/sync")
@require(Role.admin)
def sync_tags() -> Any:
    body = request.get_json(silent=True) or {}
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.get("corp_id") if isinstance(body, dict) else None)
        ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)
        row = ctx.outbox("sync_corp_tags", {"app_pk": app_pk}, key=f"sync_corp_tags:api:{uuid.uuid4().hex}")
        audit(s, "tags.sync", f"corp:{corp_id}")
        outbox_id = row.id
    _enqueue_after_commit([row])
    return jsonify({"outbox_id": outbox_id, "syncing": True}), 202


# -- tagging a customer ----------------------------------------------------------------------------------------
def _tag_ids(s: Session, corp_id: str, pks: Any, key: str) -> list[str]:
    if not isinstance(pks, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in pks):
        raise ApiError(422, "invalid", "the tagging has errors", {key: "a list of tag ids"})
    tags = s.scalars(select(Tag).where(Tag.corp_id == corp_id, Tag.id.in_(pks), Tag.deleted_at.is_(None))).all()
    if len(tags) != len(set(pks)) or any(is_pending(t.tag_id) for t in tags):
        raise ApiError(422, "invalid", "unknown tag", {key: "every tag must exist in WeCom"})
    return [t.tag_id for t in tags]


@bp.post("/customers/<id:customer_id>/tags")
@require(Role.member)
def tag_customer(customer_id: int) -> Any:
    """Add/remove tags on one follow relation (a member tags their own customers; an admin names the
    member with `userid`). mark_tag runs after commit; the answer is 202 with the outbox id."""
    body = _json_object()
    add, remove = body.get("add", []), body.get("remove", [])
    if not add and not remove:
        raise ApiError(422, "invalid", "the tagging has errors", {"add": "add or remove at least one tag"})
    principal = g.principal
    userid = body.get("userid")
    if principal.is_member:
        if userid not in (None, principal.userid):
            raise ApiError(403, "forbidden", "a member tags only their own customers")
        userid = principal.userid
    elif not isinstance(userid, str) or not userid:
        raise ApiError(422, "invalid", "the tagging has errors", {"userid": "required: whose customer"})
    with _runtime().WriteSession.begin() as s:
        customer = s.get(Customer, customer_id)
        if customer is None or customer.deleted_at is not None or (
                principal.corp_id and customer.corp_id != principal.corp_id):
            raise ApiError(404, "not_found", f"no customer {customer_id}")
        follow = s.scalar(select(FollowRelation).where(FollowRelation.customer_id == customer.id,
                                                       FollowRelation.userid == userid,
                                                       FollowRelation.status == FollowStatus.active.value))
        if follow is None:
            if principal.is_member:
                raise ApiError(404, "not_found", f"no customer {customer_id}")
            raise ApiError(422, "invalid", "the tagging has errors", {"userid": f"{userid} is not a follower"})
        add_ids, remove_ids = _tag_ids(s, customer.corp_id, add, "add"), _tag_ids(s, customer.corp_id, remove, "remove")
        _, app_pk = corp_and_app(s, customer.corp_id)
        ctx = HandlerContext(session=s, corp_id=customer.corp_id, app_pk=app_pk)
        row = ctx.outbox("mark_tag", {"app_pk": app_pk, "userid": userid, "external_userid": customer.external_userid,
                                      "add": add_ids, "remove": remove_ids, "actor": _actor()},
                         key=f"mark_tag:api:{uuid.uuid4().hex}")
        audit(s, "customer.tag", f"customer:{customer.id}", userid=userid, add=add, remove=remove)
        outbox_id = row.id
    _enqueue_after_commit([row])
    with _runtime().Session() as s:
        status = s.get(Outbox, outbox_id).status
        tags = s.scalars(select(Tag).join(FollowTag, FollowTag.tag_pk == Tag.id).join(FollowRelation).where(
            FollowRelation.customer_id == customer_id, FollowRelation.userid == userid)).all()
        return jsonify({"outbox_id": outbox_id, "status": status, "userid": userid,
                        "tags": [_tag_json(t) for t in tags]}), 202
