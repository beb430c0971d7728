"""change_contact/update_tag: who is in an address-book member tag (通讯录标签, doc 96304).

The event lists the members and departments added to and removed from tag `TagId` (comma-separated); they
are kept in `member_tags`, one row per member or department. WeCom does not promise the order of this
event and the member's own change events, so a member tag may name someone the directory has not seen yet.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete

from handlers.registry import HandlerContext, on
from models import MemberTag
from models.db import get_or_create
from wecom.events import Event

log = logging.getLogger(__name__)


def _items(raw: object) -> list[str]:
    return [item.strip() for item in str(raw or "").split(",") if item.strip()]


@on("change_contact/update_tag")
def member_tag_changed(ctx: HandlerContext, event: Event) -> None:
    tag = str(event.get("TagId")).strip()
    if not tag.isdigit():
        log.info("update_tag without a TagId ignored (inbox %s)", ctx.inbox_id)
        return
    added = [("user", u) for u in _items(event.get("AddUserItems"))]
    added += [("party", p) for p in _items(event.get("AddPartyItems")) if p.isdigit()]
    removed = [("user", u) for u in _items(event.get("DelUserItems"))]
    removed += [("party", p) for p in _items(event.get("DelPartyItems")) if p.isdigit()]
    for kind, item in added:
        get_or_create(ctx.session, MemberTag, _key(ctx.corp_id, int(tag), kind, item))
    for kind, item in removed:
        key = _key(ctx.corp_id, int(tag), kind, item)
        ctx.session.execute(delete(MemberTag).where(*(getattr(MemberTag, k) == v for k, v in key.items())))


def _key(corp_id: str, tag_id: int, kind: str, item: str) -> dict[str, object]:
    """A member_tags row's identity: a member (userid) or a department (party_id)."""
    if kind == "user":
        return {"corp_id": corp_id, "tag_id": tag_id, "userid": item, "party_id": 0}
    return {"corp_id": corp_id, "tag_id": tag_id, "userid": "", "party_id": int(item)}
