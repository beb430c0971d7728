"""Admin API for customer tags (企业客户标签): the tag library, and tagging a customer.

The web layer never calls WeCom: a change WeCom must make (create, rename, delete, mark) is an outbox row
answered 202, and the job layer calls WeCom after commit and updates our rows (WeCom sends no callback for
API changes). Colour and description are ours and change at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from handlers.registry import HandlerContext
from handlers.tags import is_pending, pending_id
from jobs.queue import enqueue_outbox
from jobs.tags import request_tags_sync
from web.api_jobs import started
from models import Customer, FollowRelation, FollowStatus, FollowTag, Outbox, Role, Tag, TagGroup
from web import errors
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import CorpBody, Items
from web.schemas.jobs import Started
from web.schemas.tags import Deleting, TagChange, Tagged, TagGroupIn, TagGroupOut, Tagging, TagUpdated
from web.scope import corp_and_app
from web.tag_marks import tag_marks

bp = Blueprint("api_tags", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_CORP_TAGS = 3000


def _runtime() -> Any:
    return current_app.extensions["scrm"]


def _enqueue_after_commit(rows: list[Outbox]) -> None:
    enqueue_outbox((row.id, row.queue) for row in rows)


def _actor() -> str:
    principal = g.principal
    return principal.userid or principal.actor


def _tag_json(t: Tag) -> dict[str, Any]:
    return {"id": t.id, "tag_id": None if is_pending(t.tag_id) else t.tag_id, "name": t.name, "order": t.order,
            "colour": t.colour, "description": t.description, "pending": is_pending(t.tag_id)}


def _group_json(grp: TagGroup) -> dict[str, Any]:
    return {"id": grp.id, "corp_id": grp.corp_id, "group_id": None if is_pending(grp.group_id) else grp.group_id,
            "name": grp.name, "order": grp.order, "pending": is_pending(grp.group_id), "strategy_id": grp.strategy_id,
            "exclusive": grp.exclusive,
            "tags": [_tag_json(t) for t in sorted(grp.tags, key=lambda t: -t.order) if t.deleted_at is None]}


def _live_tag(s: Session, tag_pk: int) -> Tag:
    tag = s.get(Tag, tag_pk)
    principal = g.principal
    if tag is None or tag.deleted_at is not None or (principal.corp_id and tag.corp_id != principal.corp_id):
        raise ApiError(404, "not_found", f"no tag {tag_pk}")
    return tag


# -- the library ---------------------------------------------------------------------------------------------
@bp.get("/tag-groups")
@require(Role.member)
@endpoint("Customer tag groups with their tags, colours and descriptions", response=Items[TagGroupOut])
def list_groups() -> Any:
    query = (select(TagGroup).where(TagGroup.deleted_at.is_(None)).options(selectinload(TagGroup.tags))
             .order_by(TagGroup.order.desc(), TagGroup.id))
    if g.principal.corp_id:
        query = query.where(TagGroup.corp_id == g.principal.corp_id)
    with _runtime().Session() as s:
        return jsonify({"items": [_group_json(grp) for grp in s.scalars(query)]})


@bp.post("/tag-groups")
@require(Role.admin)
@endpoint("Create a tag group with its tags in WeCom (202: pending add_corp_tag)", body=TagGroupIn,
          response=TagGroupOut, status=202)
def create_group(body: TagGroupIn) -> Any:
    """A group with its tags (WeCom has no empty groups); pending until add_corp_tag gives them ids."""
    tags, name = body.tags, body.name
    names = [t.name for t in tags]
    if len(set(names)) != len(names):
        raise ApiError(422, "invalid", "the tag group has errors", {"tags": "tag names must differ within a group"})
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        if s.scalar(select(TagGroup.id).where(TagGroup.corp_id == corp_id, TagGroup.name == name,
                                              TagGroup.deleted_at.is_(None))) is not None:
            raise ApiError(422, "invalid", "the tag group has errors", {"name": "a group of that name exists"})
        count = len(s.scalars(select(Tag.id).where(Tag.corp_id == corp_id, Tag.deleted_at.is_(None))).all())
        if count + len(names) > MAX_CORP_TAGS:
            raise ApiError(422, "invalid", f"a corp has at most {MAX_CORP_TAGS} tags", {"tags": "too many"})
        group = TagGroup(corp_id=corp_id, group_id=pending_id(), name=name, order=body.order, exclusive=body.exclusive)
        s.add(group)
        s.flush()
        for i, tag in enumerate(tags):
            s.add(Tag(corp_id=corp_id, tag_id=pending_id(), group_pk=group.id, name=tag.name,
                      order=len(tags) - i, colour=tag.colour, description=tag.description))
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
@endpoint("Rename or reorder a tag (202: edit_corp_tag) or set its colour/description", body=TagChange,
          response=TagUpdated, status=202)
def update_tag(tag_pk: int, body: TagChange) -> Any:
    given = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if not given:
        raise ApiError(422, "invalid", "the tag has errors", {"body": "give name, order, colour or description"})
    rows: list[Outbox] = []
    with _runtime().WriteSession.begin() as s:
        tag = _live_tag(s, tag_pk)
        changes: dict[str, Any] = {}
        for field in ("colour", "description"):
            if field in given and given[field] != getattr(tag, field):
                setattr(tag, field, given[field])
                changes[field] = given[field]
        name = given.get("name", tag.name)
        taken = select(Tag.id).where(Tag.group_pk == tag.group_pk, Tag.name == name, Tag.id != tag.id,
                                     Tag.deleted_at.is_(None))
        row, wecom_changes = plan_corp_tag_edit(s, tag, tag.tag_id, given, "edit_tag", "tag_pk", "tag",
                                                lambda: s.scalar(taken) is not None)
        if row is not None:
            rows.append(row)
            changes.update(wecom_changes)
        audit(s, "tag.update", f"tag:{tag.id}", **changes)
        body_out = {**_tag_json(tag), "name_pending": name if name != tag.name else None}
    _enqueue_after_commit(rows)
    with _runtime().Session() as s:
        return jsonify({**body_out, **_tag_json(s.get(Tag, tag_pk))}), 202 if rows else 200


def plan_corp_tag_edit(s: Session, row: Tag | TagGroup, wecom_id: str, given: dict[str, Any], job: str, pk_arg: str,
                       what: str, name_taken: Callable[[], bool]) -> tuple[Outbox | None, dict[str, Any]]:
    """The edit_corp_tag outbox row (`job`: edit_tag or edit_tag_group) for the name/order in `given` that
    differ from `row`'s, and those changes; (None, {}) when none do. 409 while WeCom is still creating the
    tag or group; 422 when the new name is taken (`name_taken`)."""
    changes: dict[str, Any] = {k: given[k] for k in ("name", "order") if k in given and given[k] != getattr(row, k)}
    if not changes:
        return None, {}
    if is_pending(wecom_id):
        raise ApiError(409, "conflict", f"the {what} is still being created in WeCom")
    if "name" in changes and name_taken():
        raise ApiError(422, "invalid", f"the {what} has errors", {"name": f"a {what} of that name exists"})
    _, app_pk = corp_and_app(s, row.corp_id)
    out = HandlerContext(session=s, corp_id=row.corp_id, app_pk=app_pk).outbox(
        job, {"app_pk": app_pk, pk_arg: row.id, **changes}, key=f"{job}:{row.id}:{uuid.uuid4().hex}")
    return out, changes


def _delete(s: Session, corp_id: str, target: str, tag_ids: list[str], group_ids: list[str]) -> Outbox:
    _, app_pk = corp_and_app(s, corp_id)
    ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)
    audit(s, f"{target.split(':')[0]}.delete", target)
    return ctx.outbox("delete_tags", {"app_pk": app_pk, "tag_ids": tag_ids, "group_ids": group_ids},
                      key=f"delete_tags:{target}")


@bp.delete("/tags/<id:tag_pk>")
@require(Role.admin)
@endpoint("Delete a tag in WeCom (202: del_corp_tag)", response=Deleting, status=202)
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
@endpoint("Delete a tag group in WeCom (202: del_corp_tag)", response=Deleting, status=202)
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
@endpoint("Fetch the whole tag library from WeCom (202)", body=CorpBody, body_optional=True, response=Started,
          status=202)
def sync_tags(body: CorpBody) -> Any:
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        row = request_tags_sync(s, corp_id, app_pk, f"token:{g.principal.name}")
        audit(s, "tags.sync", f"corp:{corp_id}", job_id=row.args["job_id"])
        outbox_id, job_id = row.id, row.args["job_id"]
    _enqueue_after_commit([row])
    return started(job_id, outbox_id=outbox_id, syncing=True)


# -- tagging a customer ----------------------------------------------------------------------------------------
@bp.post("/customers/<id:customer_id>/tags")
@require(Role.member)
@endpoint("Tag a customer (mark_tag) for one follower", body=Tagging, response=Tagged, status=202)
def tag_customer(customer_id: int, body: Tagging) -> Any:
    return jsonify(mark_customer_tags(customer_id, body)), 202


def plan_mark_tag(ctx: HandlerContext, customer: Customer, userid: str, add_ids: list[str], remove_ids: list[str],
                  actor: str) -> Outbox:
    """The mark_tag outbox row (WeCom tag ids) for one follow relation, in the caller's transaction: the one
    write path of tagging a customer from the API, the sidebar and bulk actions (jobs/bulk_actions.py)."""
    return ctx.outbox("mark_tag", {"app_pk": ctx.app_pk, "userid": userid, "external_userid": customer.external_userid,
                                   "add": add_ids, "remove": remove_ids, "actor": actor},
                      key=f"mark_tag:api:{uuid.uuid4().hex}")


def mark_customer_tags(customer_id: int, body: Tagging) -> dict[str, Any]:
    """Add/remove tags on one follow relation (a member tags their own customers; an admin names the
    member with `userid`): a mark_tag outbox row, run after commit, and an audit row; the answer (outbox id,
    its status, the relation's tags). The admin API and the sidebar (web/sidebar/customer_api.py) both
    come here."""
    add, remove = body.add, body.remove
    if not add and not remove:
        raise ApiError(422, "invalid", "the tagging has errors", {"add": "add or remove at least one tag"})
    principal = g.principal
    userid = body.userid
    if principal.is_member:
        if userid not in (None, principal.userid):
            raise ApiError(403, "forbidden", "a member tags only their own customers")
        userid = principal.userid
    elif not userid:
        raise ApiError(422, "invalid", "the tagging has errors", {"userid": "required: whose customer"})
    principal = g.principal
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
        add_ids, remove_ids = tag_marks(s, customer.corp_id, add, remove)
        _, app_pk = corp_and_app(s, customer.corp_id)
        row = plan_mark_tag(HandlerContext(session=s, corp_id=customer.corp_id, app_pk=app_pk), customer, userid,
                            add_ids, remove_ids, _actor())
        audit(s, "customer.tag", f"customer:{customer.id}", userid=userid, add=add, remove=remove)
        outbox_id = row.id
    _enqueue_after_commit([row])
    with _runtime().Session() as s:
        status = s.get(Outbox, outbox_id).status
        tags = s.scalars(select(Tag).join(FollowTag, FollowTag.tag_pk == Tag.id).join(FollowRelation).where(
            FollowRelation.customer_id == customer_id, FollowRelation.userid == userid)).all()
        return {"outbox_id": outbox_id, "status": status, "userid": userid, "tags": [_tag_json(t) for t in tags]}
