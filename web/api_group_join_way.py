"""A group code's WeCom-native form (「加入群聊」, groupchat/add_join_way): up to 5 of the corp's groups behind
one WeCom QR or mini-program button, new groups made when they are full (auto_create_room), and the code's
`state` on every join, which is how a join is counted for the code (web/api_group_codes.py, stats). The web
layer writes the row and an outbox row; jobs/group_codes.py makes the WeCom calls (202 while pending)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.group_codes import drop_join_way
from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox
from models import CustomerGroup, GroupCode, GroupJoinWay, Role
from web import errors
from web.api import _live
from web.api_group_codes import live_code
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.common import Deleted
from web.schemas.group_codes import JoinWayIn, JoinWayOut

bp = Blueprint("api_group_join_way", __name__, url_prefix="/api/v1")
errors.register(bp)

FIELDS = ("scene", "remark", "auto_create_room", "room_base_name", "room_base_id")


def _json(way: GroupJoinWay, code: GroupCode) -> dict[str, Any]:
    return {"code_id": code.id, **{k: getattr(way, k) for k in FIELDS}, "chat_ids": list(way.chat_ids),
            "state": code.state, "config_id": way.config_id, "qr_code": way.qr_code, "pending": way.config_id is None}


def _check_chats(s: Session, corp_id: str, chat_ids: list[str]) -> None:
    """Every chat id a live group of the corp, none twice; 422 naming those that are not."""
    if len(set(chat_ids)) != len(chat_ids):
        raise ApiError(422, "invalid", "chat_ids: a group is named twice", {"chat_ids": "each group once"})
    known = set(s.scalars(select(CustomerGroup.chat_id).where(
        CustomerGroup.corp_id == corp_id, CustomerGroup.chat_id.in_(chat_ids), CustomerGroup.dismissed_at.is_(None))))
    unknown = [c for c in chat_ids if c not in known]
    if unknown:
        raise ApiError(422, "invalid", f"chat_ids: no group {', '.join(unknown)} in this corp",
                       {"chat_ids": "customer groups of the code's corp"})


@bp.put("/group-codes/<id:group_code_id>/join-way")
@require(Role.admin)
@endpoint("Set the code's WeCom join way (add_join_way, or update_join_way once made; 202 while WeCom is called)",
          body=JoinWayIn, response=JoinWayOut, status=202)
def put_join_way(group_code_id: int, body: JoinWayIn) -> Any:
    if body.auto_create_room and not body.room_base_name.strip():
        raise ApiError(422, "invalid", "room_base_name: required when auto_create_room",
                       {"room_base_name": "the new groups' name prefix"})
    with runtime().WriteSession.begin() as s:
        code = live_code(s, group_code_id)
        _check_chats(s, code.corp_id, body.chat_ids)
        way = s.scalar(select(GroupJoinWay).where(GroupJoinWay.code_id == code.id))
        made = way is not None and way.config_id is not None
        if way is None:
            way = GroupJoinWay(code_id=code.id, corp_id=code.corp_id)
            s.add(way)
        for key in FIELDS:
            setattr(way, key, getattr(body, key))
        way.chat_ids = list(body.chat_ids)
        s.flush()
        ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
        job = "update_join_way" if made else "add_join_way"
        ctx.outbox(job, {"app_pk": code.app_pk, "code_id": code.id}, key=f"{job}:{code.id}:{uuid.uuid4().hex}")
        audit(s, "group_code.join_way", f"group_code:{code.id}", chat_ids=body.chat_ids, call=job)
        rows = [(r.id, r.queue) for r in ctx.pending_outbox]
    enqueue_outbox(rows)
    return _answer(group_code_id, 202)


def _answer(code_id: int, status: int = 200) -> Any:
    with runtime().Session() as s:
        code = _live(s, GroupCode, code_id, "group code")
        way = s.scalar(select(GroupJoinWay).where(GroupJoinWay.code_id == code.id))
        if way is None:
            raise ApiError(404, "not_found", f"group code {code_id} has no join way")
        return jsonify(_json(way, code)), status


@bp.get("/group-codes/<id:group_code_id>/join-way")
@require(Role.admin)
@endpoint("The code's WeCom join way, with its QR code once WeCom made it", response=JoinWayOut)
def get_join_way(group_code_id: int) -> Any:
    return _answer(group_code_id)


@bp.delete("/group-codes/<id:group_code_id>/join-way")
@require(Role.admin)
@endpoint("Delete the code's WeCom join way (202: del_join_way)", response=Deleted, status=202)
def delete_join_way(group_code_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        code = live_code(s, group_code_id)
        if s.scalar(select(GroupJoinWay.id).where(GroupJoinWay.code_id == code.id)) is None:
            raise ApiError(404, "not_found", f"group code {group_code_id} has no join way")
        ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
        drop_join_way(ctx, code)
        audit(s, "group_code.delete_join_way", f"group_code:{code.id}")
        rows = [(r.id, r.queue) for r in ctx.pending_outbox]
    enqueue_outbox(rows)
    return jsonify({"id": group_code_id, "deleted": True}), 202
