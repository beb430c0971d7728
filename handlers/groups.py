"""change_external_chat: customer groups created, changed and dismissed, as WeCom's events say.

What an event says is applied at once where it is enough: members who joined (MemChangeList, JoinScene),
members who quit (QuitScene), a dismissal. Everything the event does not carry (a new group's members,
join details such as the join_way `state`, the inviter and the join time, a new name, owner or notice) is
fetched with groupchat/get through the outbox (`fetch_group`, jobs/groups.py), and the answer reconciled.

Member versions guard the incremental path: an add_member/del_member applies only when its LastMemVer is
the version we hold and MemChangeCnt matches MemChangeList; otherwise an event was missed (or the list
was cut short) and the group is refetched and reconciled instead of guessed at. An event whose CurMemVer
we already hold is a replay (or a fetch got there first) and changes nothing.

Outcomes that write nothing are logged: an event for a group we never saw (fetched instead, except a
dismissal, which has nothing to fetch), a quit of someone never seen (the group is refetched: our list
was wrong), anything for a dismissed group.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update

from handlers.group_store import (Changes, close_stints, customer_ids, dismiss, insert_stints, open_stints, recount,
                                  staff_ids, stint_rows)
from handlers.group_codes import recheck_holding
from handlers.registry import HandlerContext, on
from handlers.smart_tags import on_groups
from models import CorpSettings
from models.corp import messaging_app
from models.db import get_or_create, utcnow
from models.groups import CustomerGroup, GroupMember, MemberType
from rules.group_members import SeenMember
from wecom.events import ExternalChatEvent

log = logging.getLogger(__name__)

JOIN_SCENES = frozenset({1, 2, 3})
"""JoinScene values that name one of groupchat/get's join scenes. The event's 0 means "invited" (directly
or by link, doc 92130), which groupchat/get tells apart: left unknown until the fetch fills it in."""


EXTERNAL_PREFIXES = ("wm", "wo")


def _at(event: ExternalChatEvent) -> dt.datetime:
    return event.create_time or utcnow()


def fetch(ctx: HandlerContext, event: ExternalChatEvent, why: str) -> None:
    """Plan groupchat/get for the event's group; its answer is reconciled (gone members closed at the
    event's time, the time we learnt of it)."""
    log.info("group %s: fetching groupchat/get (%s)", event.chat_id, why)
    ctx.outbox("fetch_group", {"app_pk": ctx.app_pk, "chat_id": event.chat_id, "at": _at(event).isoformat()},
               key=f"fetch_group:inbox:{ctx.inbox_id}", fresh=ctx.first_attempt)


def _usable(event: ExternalChatEvent) -> bool:
    """A ChatId we can store (WeCom's are ~30 characters; the column holds 64): else logged, nothing written."""
    if 0 < len(event.chat_id) <= 64:
        return True
    log.info("%s with %s ChatId: nothing to do", event.routing_key, "a too long" if event.chat_id else "no")
    return False


def _group(ctx: HandlerContext, chat_id: str) -> CustomerGroup | None:
    return ctx.session.scalar(select(CustomerGroup).where(CustomerGroup.corp_id == ctx.corp_id,
                                                          CustomerGroup.chat_id == chat_id).with_for_update())


@on("change_external_chat/create")
def group_created(ctx: HandlerContext, event: ExternalChatEvent) -> None:
    """A new group: its row now (so the list shows it), its members and details from groupchat/get."""
    if not _usable(event):
        return
    get_or_create(ctx.session, CustomerGroup, {"corp_id": ctx.corp_id, "chat_id": event.chat_id},
                  group_created_at=_at(event), admins=[])
    fetch(ctx, event, "created")


@on("change_external_chat/update")
def group_updated(ctx: HandlerContext, event: ExternalChatEvent) -> None:
    """add_member/del_member are applied from the event; change_owner, change_name, change_notice (and any
    detail WeCom adds later) carry no new value, so the group is fetched."""
    if not _usable(event):
        return
    if event.update_detail not in ("add_member", "del_member"):
        fetch(ctx, event, event.update_detail or "update")
        return
    group = _group(ctx, event.chat_id)
    if group is None:
        fetch(ctx, event, "a group we never saw")
        return
    if group.dismissed_at is not None:
        log.info("group %s: %s after its dismissal ignored", event.chat_id, event.update_detail)
        return
    if event.cur_mem_ver and group.member_version == event.cur_mem_ver[:64]:
        if event.update_detail == "del_member":
            _settle_quits(ctx, group, event)
        return  # applied already: a replay, or a fetch that got there first
    if (event.last_mem_ver != group.member_version or not event.mem_change_list
            or event.mem_change_cnt != len(event.mem_change_list)):
        fetch(ctx, event, f"member version {group.member_version or '-'} → event {event.last_mem_ver or '-'}"
                          f"/{event.cur_mem_ver or '-'}, {event.mem_change_cnt} changed, "
                          f"{len(event.mem_change_list)} listed")
        return
    if event.update_detail == "add_member":
        _joined(ctx, group, event)
    elif not _quit(ctx, group, event):
        return  # someone never seen: the fetch sets the version with the list it reads
    group.member_version = event.cur_mem_ver[:64]
    recheck_holding(ctx, group.id, utcnow())
    on_groups(ctx.session, ctx.corp_id, "group_member", [group.id])  # 智能标签 on the new count and joins


def _joined(ctx: HandlerContext, group: CustomerGroup, event: ExternalChatEvent) -> None:
    """Open a stint for each listed member not in the group yet; the fetch then fills in their details."""
    stints = open_stints(ctx.session, [group.id])[group.id]
    new = [m for m in dict.fromkeys(event.mem_change_list) if m not in stints]
    staff = staff_ids(ctx.session, ctx.corp_id, new)
    scene = event.join_scene if event.join_scene in JOIN_SCENES else None
    members = [SeenMember(member_id=m[:64], joined_at=_at(event), join_scene=scene, inviter_userid="",
                          join_state="", name="", group_nickname="", unionid="", member_type=_member_type(m, staff))
               for m in new]
    linked = customer_ids(ctx.session, ctx.corp_id, members, Changes())
    insert_stints(ctx.session, stint_rows(group, members, linked))
    recount(group, [s.details["member_type"] for s in stints.values()] + [m.member_type for m in members])
    fetch(ctx, event, "join details")


def _member_type(member_id: str, staff: set[str]) -> int:
    """The event does not say: a userid we know is staff, so is any id that is not shaped like an
    external_userid (WeCom's start with wm, or wo for a WeCom user of another corp); the fetch that follows
    corrects a wrong guess."""
    if member_id in staff or not member_id.startswith(EXTERNAL_PREFIXES):
        return MemberType.staff.value
    return MemberType.external.value


def _quit(ctx: HandlerContext, group: CustomerGroup, event: ExternalChatEvent) -> bool:
    """Close the listed members' stints at the event's time with its QuitScene; a member we do not hold
    open is either one a fetch already closed (its time and scene corrected) or never seen (refetched).
    False when someone was never seen."""
    stints = open_stints(ctx.session, [group.id])[group.id]
    gone = [stints.pop(m) for m in dict.fromkeys(event.mem_change_list) if m in stints]
    close_stints(ctx.session, [(s.id, _at(event), event.quit_scene) for s in gone])
    recount(group, [s.details["member_type"] for s in stints.values()])
    customers = [stint for stint in gone if stint.details.get("member_type") == MemberType.external.value]
    if customers and group.owner_userid and ctx.session.scalar(
            select(CorpSettings.notify_owner_on_group_quit).where(CorpSettings.corp_id == ctx.corp_id)):
        for stint in customers:
            _notify_quit(ctx, group, stint.id, stint.member_id, str(stint.details.get("name") or ""))
    if len(gone) < len(set(event.mem_change_list)):
        return _settle_quits(ctx, group, event)
    return True


def _settle_quits(ctx: HandlerContext, group: CustomerGroup, event: ExternalChatEvent) -> bool:
    """For members of a del_member whose stint is not open: a stint a reconciliation closed without knowing
    how (quit_scene NULL) gets the event's time and scene; a member with no stint at all was never seen,
    and the group is refetched (False)."""
    stints = ctx.session.execute(select(GroupMember.id, GroupMember.member_id, GroupMember.quit_scene,
                                        GroupMember.open_key)
                                 .where(GroupMember.group_id == group.id,
                                        GroupMember.member_id.in_(event.mem_change_list))
                                 .order_by(GroupMember.id)).all()
    latest = {row.member_id: row for row in stints}
    for row in latest.values():
        if row.open_key is None and row.quit_scene is None and event.quit_scene is not None:
            ctx.session.execute(update(GroupMember).where(GroupMember.id == row.id)
                                .values(quit_at=_at(event), quit_scene=event.quit_scene))
    unseen = set(event.mem_change_list) - set(latest)
    if unseen:
        log.info("group %s: del_member for %d member(s) never seen", event.chat_id, len(unseen))
        fetch(ctx, event, "a quit of someone never seen")
    return not unseen


def _notify_quit(ctx: HandlerContext, group: CustomerGroup, stint_id: int, member_id: str, name: str) -> None:
    """退群提醒 (the corp turned it on): tell the owner a customer quit; once per stint, however often the
    event is replayed."""
    app_pk, agent_id = messaging_app(ctx.session, ctx.corp_id, prefer_pk=ctx.app_pk) or (ctx.app_pk, None)
    ctx.outbox("notify_group_quit", {"app_pk": app_pk, "agent_id": agent_id, "userid": group.owner_userid,
                                     "group_name": group.name or group.chat_id, "member_id": member_id,
                                     "member_name": name},
               key=f"notify_group_quit:{stint_id}")


@on("change_external_chat/dismiss")
def group_dismissed(ctx: HandlerContext, event: ExternalChatEvent) -> None:
    """The group is gone: dismissed at the event's time, every open stint closed then (no quit scene: nobody
    left on their own). A dismissal of a group we never saw, or a second one, writes nothing."""
    group = _group(ctx, event.chat_id) if _usable(event) else None
    if group is None:
        log.info("dismiss of group %s, which we never saw: nothing to do", event.chat_id or "(no ChatId)")
        return
    dismiss(ctx.session, group, _at(event))
