"""Customer tags in WeCom: get_corp_tag_list, add/edit/del_corp_tag and mark_tag.

WeCom fires no callback for changes made through its API, so each effect writes the outcome to our rows
itself (in `ctx.finish`, with the outbox row marked done). The CRM writes are the handlers' functions
(`handlers.tags`), shared with the change_external_tag handlers and the profile sync.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.tags import apply_corp_tag_groups, delete_corp_tags, is_pending, mark_follow_tags
from jobs.outbound import EffectContext, effect
from jobs.queue import FinalError
from models import Customer, FollowRelation, Tag, TagGroup


@effect("sync_corp_tags")
def sync_corp_tags(ctx: EffectContext, tag_ids: list[str] | None = None, group_ids: list[str] | None = None,
                   strategy_id: int | None = None) -> dict[str, Any] | None:
    """The whole tag library (no ids), or only the named groups (whole) or tags; with `strategy_id`, from
    that rule group's library (get_strategy_tag_list, doc 99544), which get_corp_tag_list does not show."""
    body: dict[str, Any] = {}
    if group_ids:
        body["group_id"] = list(group_ids)
    elif tag_ids:
        body["tag_id"] = list(tag_ids)
    full = not body and strategy_id is None
    if strategy_id is None:
        answer = ctx.client.post("externalcontact/get_corp_tag_list", data=body)
    else:
        answer = ctx.client.post("externalcontact/get_strategy_tag_list", data={**body, "strategy_id": strategy_id})
    groups = list(answer.get("tag_group", []))
    return ctx.finish(lambda s: apply_corp_tag_groups(
        s, ctx.corp_id, groups, full, asked_tag_ids=body.get("tag_id", []), asked_group_ids=body.get("group_id", [])))


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
        group = s.get(TagGroup, group_pk)
        existing = s.scalar(select(TagGroup).where(TagGroup.corp_id == group.corp_id,
                                                   TagGroup.group_id == answer["group_id"], TagGroup.id != group.id))
        target = existing or group
        target.group_id, target.deleted_at = answer["group_id"], None
        target.name = answer.get("group_name", target.name)
        ids = {t["name"]: t["id"] for t in answer.get("tag", [])}
        created = {}
        for tag_pk, name, _ in pending:
            tag = s.get(Tag, tag_pk)
            if name in ids:
                tag.tag_id, tag.group_pk = ids[name], target.id
                created[name] = ids[name]
        if existing is not None:  # WeCom added to a group of that name we already had: ours merges into it
            s.flush()
            s.delete(group)
        return {"group_id": answer["group_id"], "tags": created}

    return ctx.finish(write)


@effect("edit_tag")
def edit_tag(ctx: EffectContext, tag_pk: int, name: str) -> dict[str, Any] | None:
    """edit_corp_tag: rename a tag (`tag_pk`) in WeCom, then here."""
    with ctx.runtime.Session() as s:
        tag = s.get(Tag, tag_pk)
        if tag is None or is_pending(tag.tag_id):
            raise FinalError(f"tag {tag_pk} has no WeCom id")
        tag_id = tag.tag_id
    ctx.client.post("externalcontact/edit_corp_tag", data={"id": tag_id, "name": name})

    def write(s: Session) -> dict[str, Any]:
        s.get(Tag, tag_pk).name = name
        return {"tag_id": tag_id, "name": name}

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
