"""change_external_tag: the corp's customer tag library kept current from WeCom, and the CRM writes that
follow from WeCom's tag answers (get_corp_tag_list, externalcontact/get's follow_user[].tags).

WeCom owns ids, names and orders; colour and description are ours and survive every sync. create, update
and shuffle ask the job layer to fetch (a targeted get_corp_tag_list for create/update with an id, the
whole list otherwise); delete needs no fetch, so it soft-deletes our rows at once and drops the tag from
every follow relation.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from handlers.registry import HandlerContext, on
from handlers.sop import enrol_tagged
from models import FollowRelation, FollowTag, Tag, TagGroup
from models.chunk import chunk_memo
from models.db import get_or_create, utcnow
from wecom.events import ExternalTagEvent

PENDING_PREFIX = "pending-"  # a group/tag created through our API that WeCom has not given an id yet
CORP_TAG = 1  # follow_user[].tags[].type: 1 corp tag, 2 the member's personal tag, 3 rule-group tag


def pending_id() -> str:
    return PENDING_PREFIX + secrets.token_hex(8)


def is_pending(wecom_id: str) -> bool:
    return wecom_id.startswith(PENDING_PREFIX)


@on("change_external_tag/create", "change_external_tag/update", "change_external_tag/shuffle")
def tag_changed(ctx: HandlerContext, event: ExternalTagEvent) -> None:
    args: dict[str, Any] = {"app_pk": ctx.app_pk}
    change = event.routing_key.rsplit("/", 1)[-1]
    if change in ("create", "update") and event.tag_id and event.tag_type in ("tag", "tag_group"):
        args["group_ids" if event.tag_type == "tag_group" else "tag_ids"] = [event.tag_id]
    if str(event.strategy_id).isdigit():  # a rule-group tag: only get_strategy_tag_list knows it
        args["strategy_id"] = int(event.strategy_id)
    ctx.outbox("sync_corp_tags", args, key=f"sync_corp_tags:inbox:{ctx.inbox_id}", fresh=ctx.first_attempt)


@on("change_external_tag/delete")
def tag_deleted(ctx: HandlerContext, event: ExternalTagEvent) -> None:
    if not event.tag_id:
        return
    if event.tag_type == "tag_group":
        delete_corp_tags(ctx.session, ctx.corp_id, [], [event.tag_id])
    else:
        delete_corp_tags(ctx.session, ctx.corp_id, [event.tag_id], [])


def delete_corp_tags(session: Session, corp_id: str, tag_ids: Iterable[str], group_ids: Iterable[str]) -> int:
    """Soft-delete tags and whole groups (by WeCom id) and take them off every follow relation; a group
    left without live tags goes too, as in WeCom. Deleting what is already gone changes nothing."""
    now = utcnow()
    tag_ids, group_ids = set(tag_ids), set(group_ids)
    groups = session.scalars(select(TagGroup).where(TagGroup.corp_id == corp_id,
                                                    TagGroup.group_id.in_(group_ids))).all()
    tags = list(session.scalars(select(Tag).where(Tag.corp_id == corp_id, Tag.deleted_at.is_(None), (
        Tag.tag_id.in_(tag_ids) | Tag.group_pk.in_([g.id for g in groups])))))
    for group in groups:
        group.deleted_at = group.deleted_at or now
    for tag in tags:
        tag.deleted_at = now
    _drop_follow_tags(session, [t.id for t in tags])
    session.flush()
    for group_pk in {t.group_pk for t in tags}:
        group = session.get_one(TagGroup, group_pk)
        if group.deleted_at is None and not any(t.deleted_at is None for t in group.tags):
            group.deleted_at = now
    return len(tags)


def _drop_follow_tags(session: Session, tag_pks: list[int]) -> None:
    _forget_preloaded(session)
    if tag_pks:
        session.execute(delete(FollowTag).where(FollowTag.tag_pk.in_(tag_pks)))


def apply_corp_tag_groups(session: Session, corp_id: str, groups: list[dict[str, Any]], full: bool,
                          asked_tag_ids: Iterable[str] = (), asked_group_ids: Iterable[str] = ()) -> dict[str, int]:
    """Upsert groups and tags from a get_corp_tag_list answer with WeCom's names and orders, keeping our
    colour and description. `deleted: true` entries are soft-deleted. A FULL answer is the whole library,
    so a known tag missing from it is gone; a targeted answer only speaks for what was asked (a group asked
    for comes whole, so its missing tags are gone; a tag asked for and not answered is gone). Groups of a
    get_strategy_tag_list answer carry their `strategy_id`, which is recorded; rule-group tags are never
    in the corp library, so a full corp answer leaves them alone."""
    seen_tags: set[str] = set()
    gone_tags: set[str] = set()
    gone_groups: set[str] = set()
    for item in groups:
        group_id = item["group_id"]
        if item.get("deleted"):
            gone_groups.add(group_id)
            continue
        group, _ = get_or_create(session, TagGroup, {"corp_id": corp_id, "group_id": group_id})
        group.name = item.get("group_name", group.name)
        group.order = int(item.get("order", group.order) or 0)
        if item.get("strategy_id") is not None:
            group.strategy_id = int(item["strategy_id"])
        group.deleted_at = None
        session.flush()
        for raw in item.get("tag", []):
            if raw.get("deleted"):
                gone_tags.add(raw["id"])
                continue
            tag, _ = get_or_create(session, Tag, {"corp_id": corp_id, "tag_id": raw["id"]}, group_pk=group.id)
            tag.group_pk = group.id
            tag.name = raw.get("name", tag.name)
            tag.order = int(raw.get("order", tag.order) or 0)
            tag.deleted_at = None
            seen_tags.add(raw["id"])
    live = select(Tag).where(Tag.corp_id == corp_id, Tag.deleted_at.is_(None))
    if full:
        corp_library = live.join(TagGroup).where(TagGroup.strategy_id.is_(None))
        gone_tags |= {t.tag_id for t in session.scalars(corp_library)
                      if not is_pending(t.tag_id) and t.tag_id not in seen_tags}
        gone_groups |= {g.group_id for g in session.scalars(select(TagGroup).where(
            TagGroup.corp_id == corp_id, TagGroup.deleted_at.is_(None), TagGroup.strategy_id.is_(None)))
            if not is_pending(g.group_id) and g.group_id not in {i["group_id"] for i in groups if not i.get("deleted")}}
    else:
        gone_tags |= set(asked_tag_ids) - seen_tags
        answered = {i["group_id"] for i in groups if not i.get("deleted")}
        gone_groups |= set(asked_group_ids) - answered
        for group_id in set(asked_group_ids) & answered:
            gone_tags |= {t.tag_id for t in session.scalars(live.join(TagGroup).where(TagGroup.group_id == group_id))
                          if t.tag_id not in seen_tags and not is_pending(t.tag_id)}
    deleted = delete_corp_tags(session, corp_id, gone_tags - seen_tags, gone_groups) if gone_tags or gone_groups else 0
    return {"groups": len(groups), "tags": len(seen_tags), "deleted": deleted}


def set_follow_tags(session: Session, follow: FollowRelation, tags: list[dict[str, Any]], new: bool = False) -> None:
    """Make the follow relation's corp tags what WeCom says (externalcontact/get's follow_user[].tags).
    Rows we already have keep their `tagged_by`; new ones are `wecom`. Tags we have not synced yet are
    skipped (the next tag sync brings them; the next profile fetch links them). `new`: the relation is
    being added in this transaction, so it has no tags to read."""
    wanted = {t["tag_id"] for t in tags if t.get("tag_id") and int(t.get("type", CORP_TAG) or CORP_TAG) == CORP_TAG}
    known = {t.tag_id: t.id for t in session.scalars(select(Tag).where(
        Tag.corp_id == follow.corp_id, Tag.tag_id.in_(wanted), Tag.deleted_at.is_(None)))} if wanted else {}
    if new and not known:
        return
    preloaded = _preloaded(session)
    if new:
        session.flush()  # the relation's id, for its tag rows
        have: dict[int, FollowTag] = {}
    elif preloaded is not None and follow.id in preloaded:
        have = preloaded[follow.id]
    else:
        session.flush()
        have = {ft.tag_pk: ft for ft in session.scalars(select(FollowTag).where(FollowTag.follow_id == follow.id))}
    for tag_pk, row in list(have.items()):
        if tag_pk not in known.values():
            session.delete(row)
            del have[tag_pk]
    added = set(known.values()) - set(have)
    for tag_pk in added:
        row = have[tag_pk] = FollowTag(**follow_tag_keys(follow, tag_pk), tagged_by="wecom")
        session.add(row)
    if preloaded is not None:
        preloaded[follow.id] = have  # a second sync of this customer in the batch sees these rows
    enrol_tagged(session, follow, [tag_id for tag_id, pk in known.items() if pk in added])


_FOLLOW_TAGS = "follow_tags"  # chunk memo: follow id → {tag pk: FollowTag}, for the relations preloaded


def preload_follow_tags(session: Session, follow_ids: Iterable[int]) -> None:
    """In a chunk (models/chunk.py): the corp tags of these relations in one SELECT, for `set_follow_tags`
    (a batch of profile syncs would otherwise read them one relation at a time, each after a flush)."""
    found = chunk_memo(session)
    ids = sorted(set(follow_ids))
    if found is None or not ids:
        return
    tags: dict[int, dict[int, FollowTag]] = found.setdefault(_FOLLOW_TAGS, {})
    for follow_id in ids:
        tags.setdefault(follow_id, {})
    for row in session.scalars(select(FollowTag).where(FollowTag.follow_id.in_(ids))
                               .execution_options(autoflush=False)):
        tags[row.follow_id][row.tag_pk] = row


def _preloaded(session: Session) -> dict[int, dict[int, FollowTag]] | None:
    found = chunk_memo(session)
    return None if found is None else found.get(_FOLLOW_TAGS)


def _forget_preloaded(session: Session) -> None:
    """A write of follow tags other than `set_follow_tags`: the preloaded ones may be stale; read them anew."""
    found = chunk_memo(session)
    if found is not None:
        found.pop(_FOLLOW_TAGS, None)


def follow_tag_keys(follow: FollowRelation, tag_pk: int) -> dict[str, int]:
    """What identifies tag `tag_pk` on `follow`, with the relation's customer copied in: every FollowTag row is
    made from this, so the copy segments intersect on (FollowTag.customer_id) is always set."""
    return {"follow_id": follow.id, "tag_pk": tag_pk, "customer_id": follow.customer_id}


def mark_follow_tags(session: Session, follow: FollowRelation, add: Iterable[str], remove: Iterable[str],
                     actor: str) -> dict[str, list[str]]:
    """Record a done mark_tag (WeCom tag ids) on a follow relation: added tags by `actor`, removed ones gone.
    A tag both added and removed ends removed, as in WeCom."""
    _forget_preloaded(session)
    removed = set(remove)
    pks = {t.tag_id: t.id for t in session.scalars(select(Tag).where(
        Tag.corp_id == follow.corp_id, Tag.tag_id.in_(set(add) | removed)))}
    session.execute(delete(FollowTag).where(
        FollowTag.follow_id == follow.id, FollowTag.tag_pk.in_([pks[t] for t in removed if t in pks])))
    added = []
    for tag_id in dict.fromkeys(add):
        if tag_id in removed or tag_id not in pks:
            continue
        row, created = get_or_create(session, FollowTag, follow_tag_keys(follow, pks[tag_id]), tagged_by=actor)
        if not created:
            row.tagged_by = actor
        added.append(tag_id)
    enrol_tagged(session, follow, added)
    return {"added": added, "removed": sorted(removed)}
