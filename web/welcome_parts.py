"""What a welcome (欢迎语, manual 3.3) may carry besides text and library materials: a group code's QR code
(群活码), so a new customer can join the group straight from the welcome. The QR is the code's join way's
(groupchat/add_join_way, web/api_group_join_way.py): it must exist in WeCom, as a QR (scene 2), when the
welcome is saved."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import GroupCode, GroupJoinWay


def group_qr_problems(s: Session, corp_id: str, group_code_id: int | None) -> dict[str, str]:
    """field → message when `group_code_id` names no live group code of the corp with a ready QR join way."""
    if group_code_id is None:
        return {}
    code = s.get(GroupCode, group_code_id)
    if code is None or code.corp_id != corp_id or code.deleted_at is not None:
        return {"group_code_id": f"no group code {group_code_id}"}
    way = s.scalar(select(GroupJoinWay).where(GroupJoinWay.code_id == code.id))
    if way is None or way.scene != 2:
        return {"group_code_id": "the group code has no QR join way (POST /group-codes/<id>/join-way, scene 2)"}
    if not way.qr_code:
        return {"group_code_id": "the group code's join way is still being created in WeCom"}
    return {}


def attachment_count(welcome: dict[str, Any]) -> int:
    """Attachments the welcome sends: its materials, and the group QR code if it has one."""
    return len(welcome.get("material_ids") or []) + (1 if welcome.get("group_code_id") else 0)
