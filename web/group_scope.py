"""Which customer groups a caller may see (issue 12): the one rule every group route (list, detail, size,
portrait, export, tags, sync) reads. A corp-bound token sees its corp; a member sees the groups that someone
in their data scope (web/access.py `visible_userids`; the basic role: themselves) owns or is in now or was
in (their stints in `group_members`), as the manual's 客户群 list shows a member their own groups; another
group is absent (404 by chat_id), never a 403 that would confirm it exists."""

from __future__ import annotations

from flask import g
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from models.groups import CustomerGroup, GroupMember
from web.access import visible_userids
from web.errors import ApiError

__all__ = ["group_rows", "visible_group"]


def group_rows() -> Select:
    """The groups this token may see, newest first."""
    query = select(CustomerGroup).order_by(CustomerGroup.id.desc())
    principal = g.principal
    if principal.corp_id:
        query = query.where(CustomerGroup.corp_id == principal.corp_id)
    seen = visible_userids()
    if seen is not None:
        mine = select(GroupMember.group_id).where(GroupMember.corp_id == principal.corp_id,
                                                  GroupMember.member_id.in_(seen))
        query = query.where(or_(CustomerGroup.owner_userid.in_(seen), CustomerGroup.id.in_(mine)))
    return query


def visible_group(s: Session, chat_id: str) -> CustomerGroup:
    """The group `chat_id` if this token may see it, else a 404. A corp-less admin token naming a chat id
    two corps share gets a 409 (chat ids are WeCom's, unique per corp only by contract)."""
    rows = list(s.scalars(group_rows().where(CustomerGroup.chat_id == chat_id).limit(2)))
    if not rows:
        raise ApiError(404, "not_found", f"no group {chat_id}")
    if len(rows) > 1:
        raise ApiError(409, "ambiguous", f"group {chat_id} exists in several corps: use a corp-bound token")
    return rows[0]
