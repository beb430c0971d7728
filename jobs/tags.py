"""Customer tags in WeCom: get_corp_tag_list, add/edit/del_corp_tag and mark_tag.

WeCom fires no callback for changes made through its API, so each effect writes the outcome to our rows
itself (in `ctx.finish`, with the outbox row marked done). The CRM writes are the handlers' functions
(`handlers.tags`), shared with the change_external_tag handlers and the profile sync.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.tags import apply_corp_tag_groups, delete_corp_tags, is_pending, mark_follow_tags
from jobs.outbound import EffectContext, effect
from jobs.progress import open_run, tracked
from jobs.queue import FinalError
from models import Customer, FollowRelation, Outbox, OutboxStatus, Tag, TagGroup


def request_tags_sync(s: Session, corp_id: str, app_pk: int, requested_by: str) -> Outbox:
    """The outbox row for a full tag sync someone asked for, with its job run (`args["job_id"]`). The caller
    enqueues `deliver_outbox` after commit."""
    job_id = open_run(s, "tags_sync", corp_id, requested_by).id
    row = Outbox(key=f"sync_corp_tags:{requested_by}:{uuid.uuid4().hex}", corp_id=corp_id, job="sync_corp_tags",
                 args={"app_pk": app_pk, "job_id": job_id}, queue="outbound", status=OutboxStatus.pending.value)
    s.add(row)
    s.flush()
    return row


@effect("sync_corp_tags")
def sync_corp_tags(ctx: EffectContext, tag_ids: list[str] | None = None, group_ids: list[str] | None = None,
                   strategy_id: int | None = None, job_id: int | None = None) -> dict[str, Any] | None:
    """The whole tag library (no ids), or only the named groups (whole) or tags; with `strategy_id`, from
    that rule group's library (get_strategy_tag_list, doc 99544), which get_corp_tag_list does not show.
    Progress (job run `job_id`): the groups fetched, then applied in one transaction."""
    body: dict[str, Any] = {}
    if group_ids:
        body["group_id"] = list(group_ids)
    elif tag_ids:
        body["tag_id"] = list(tag_ids)
    full = not body and strategy_id is None
    with tracked(job_id) as progress:
        if strategy_id is None:
            answer = ctx.client.post("externalcontact/get_corp_tag_list", data=body)
        else:
            answer = ctx.client.post("externalcontact/get_strategy_tag_list",
                                     data={**body, "strategy_id": strategy_id})
        groups = list(answer.get("tag_group", []))
        progress.total = len(groups)
        progress.flush()
        progress.result = ctx.finish(lambda s: apply_corp_tag_groups(
            s, ctx.corp_id, groups, full, asked_tag_ids=body.get("tag_id", []),
            asked_group_ids=body.get("group_id", [])))
    return progress.result


@effect("create_tags")
def create_tags(ctx: EffectContext, group_pk: int) -> dict[str, Any] | None:
    """add_corp_tag for the group's tags that have no WeCom id yet; stores the ids WeCom gave."""
    with ctx.runtime.Session() as s:
        group = s.get(TagGroup, group_pk)
        if group is None:
            raise FinalError(f"tag group {group_pk} is gone")
        pending = sorted(((t.id, t.name, t.order) for t in group.tags if is_pending(t.tag_id) and t.deleted_at is None),
                         key=lambda p: -p[2])  # WeCom: a larger order comes first
        data: dict[str, Any] = {"tag": [{"name": name, "order": order} for _, name, order in pending]}
        if is_pending(group.group_id):
            data |= {"group_name": group.name, "order": group.order}
        else:
            data["group_id"] = group.group_id
    if not pending:
        return ctx.finish(lambda s: {"created": 0})
    answer = ctx.client.post("externalcontact/add_corp_tag", data=data)["tag_group"]

    def write(s: Session) -> dict[str, Any]:
        group = s.get_one(TagGroup, group_pk)
        existing = s.scalar(select(TagGroup).where(TagGroup.corp_id == group.corp_id,
                                                   TagGroup.group_id == answer["group_id"], TagGroup.id != group.id))
        target = existing or group
        target.group_id, target.deleted_at = answer["group_id"], None
        target.name = answer.get("group_name", target.name)
        ids = {t["name"]: t["id"] for t in answer.get("tag", [])}
        created = {}
        for tag_pk, name, _ in pending:
            tag = s.get_one(Tag, tag_pk)
            if name in ids:
                tag.tag_id, tag.group_pk = ids[name], target.id
                created[name] = ids[name]
        if existing is not None:  # WeCom added to a group of that name we already had: ours merges into it
            s.flush()
            s.delete(group)
        return {"group_id": answer["group_id"], "tags": created}

    return ctx.finish(write)


@effect("edit_tag")
def edit_tag(ctx: EffectContext, tag_pk: int, name: str | None = None,
             order: int | None = None) -> dict[str, Any] | None:
    """edit_corp_tag: rename and/or reorder a tag (`tag_pk`) in WeCom, then here."""
    return _edit_corp_tag(ctx, Tag, tag_pk, name, order)


@effect("edit_tag_group")
def edit_tag_group(ctx: EffectContext, group_pk: int, name: str | None = None,
                   order: int | None = None) -> dict[str, Any] | None:
    """edit_corp_tag on a group's id: rename and/or reorder the group in WeCom, then here."""
    return _edit_corp_tag(ctx, TagGroup, group_pk, name, order)


def _edit_corp_tag(ctx: EffectContext, model: type[Tag] | type[TagGroup], pk: int, name: str | None,
                   order: int | None) -> dict[str, Any] | None:
    """WeCom's edit_corp_tag takes a tag's or a group's id alike; ours changes only once WeCom agreed."""
    id_attr = "tag_id" if model is Tag else "group_id"
    with ctx.runtime.Session() as s:
        row = s.get(model, pk)
        if row is None or is_pending(getattr(row, id_attr)):
            raise FinalError(f"{model.__tablename__} {pk} has no WeCom id")
        wecom_id = getattr(row, id_attr)
    changes = {k: v for k, v in (("name", name), ("order", order)) if v is not None}
    if not changes:
        raise FinalError("edit_corp_tag: neither name nor order")
    ctx.client.post("externalcontact/edit_corp_tag", data={"id": wecom_id, **changes})

    def write(s: Session) -> dict[str, Any]:
        row = s.get_one(model, pk)
        for key, value in changes.items():
            setattr(row, key, value)
        return {id_attr: wecom_id, **changes}

    return ctx.finish(write)


@effect("delete_tags")
def delete_tags(ctx: EffectContext, tag_ids: list[str] | None = None,
                group_ids: list[str] | None = None) -> dict[str, Any] | None:
    """del_corp_tag for WeCom ids, then soft-delete ours (and take them off every customer)."""
    tag_ids, group_ids = list(tag_ids or []), list(group_ids or [])
    ctx.client.post("externalcontact/del_corp_tag", data={"tag_id": tag_ids, "group_id": group_ids})
    return ctx.finish(lambda s: {"deleted": delete_corp_tags(s, ctx.corp_id, tag_ids, group_ids)})


@effect("mark_tag")
def mark_tag(ctx: EffectContext, userid: str, external_userid: str, add: list[str], remove: list[str],
             actor: str = "wecom") -> dict[str, Any] | None:
    """externalcontact/mark_tag on one follow relation (WeCom tag ids), then the FollowTag rows by `actor`."""
    if not add and not remove:
        raise FinalError("mark_tag: add and remove are both empty")
    ctx.client.post("externalcontact/mark_tag", data={
        "userid": userid, "external_userid": external_userid, "add_tag": list(add), "remove_tag": list(remove)})

    def write(s: Session) -> dict[str, Any]:
        follow = s.scalar(select(FollowRelation).join(Customer).where(
            Customer.corp_id == ctx.corp_id, Customer.external_userid == external_userid,
            FollowRelation.userid == userid))
        if follow is None:  # WeCom knows the relation, we do not yet: the profile sync will link the tags
            return {"added": [], "removed": [], "follow": None}
        return mark_follow_tags(s, follow, add, remove, actor)

    return ctx.finish(write)
