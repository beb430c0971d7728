"""Group channel codes in WeCom: a code's 「加入群聊」 join way (groupchat/add_join_way, get_join_way for its QR,
update_join_way, del_join_way), and the periodic re-check that marks a code abnormal when its last group
QR expires or fills without anyone scanning (and normal again when a group frees up).

Each effect sends the join way as it is in the DB when the job runs, so a delayed retry never writes an
older version over a newer one, and a join way deleted before WeCom made it is never made."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.group_codes import recheck
from handlers.registry import HandlerContext
from jobs.outbound import EffectContext, effect
from jobs.queue import enqueue_outbox, job
from jobs.runtime import current
from models import GroupCode, GroupJoinWay
from models.db import utcnow

RECHECK_EVERY = dt.timedelta(minutes=5)
"""How often `rq cron jobs.cron` runs group_codes_recheck_job."""


def join_way_body(way: GroupJoinWay, state: str) -> dict[str, Any]:
    """add_join_way's and update_join_way's fields for `way` (doc 92229)."""
    body: dict[str, Any] = {"scene": way.scene, "remark": way.remark, "auto_create_room": int(way.auto_create_room),
                            "chat_id_list": list(way.chat_ids), "state": state}
    if way.auto_create_room:
        body["room_base_name"] = way.room_base_name
        if way.room_base_id is not None:
            body["room_base_id"] = way.room_base_id
    return body


def _way(ctx: EffectContext, code_id: int) -> tuple[GroupJoinWay, str] | None:
    """The code's join way (detached) and the code's state; None when it was deleted since."""
    with ctx.runtime.Session() as s:
        way = s.scalar(select(GroupJoinWay).where(GroupJoinWay.code_id == code_id))
        state = s.scalar(select(GroupCode.state).where(GroupCode.id == code_id, GroupCode.deleted_at.is_(None)))
        if way is None or state is None:
            return None
        s.expunge(way)
    return way, state


@effect("add_join_way")
def add_join_way(ctx: EffectContext, code_id: int) -> dict[str, Any] | None:
    """Make the join way in WeCom, then read it back (get_join_way) for its QR code, which add does not return."""
    found = _way(ctx, code_id)
    if found is None or found[0].config_id:
        return ctx.finish(lambda s: {"config_id": found[0].config_id if found else None})
    way, state = found
    config_id = ctx.client.post("externalcontact/groupchat/add_join_way", data=join_way_body(way, state))["config_id"]
    made = ctx.client.post("externalcontact/groupchat/get_join_way", data={"config_id": config_id})["join_way"]

    def write(s: Session) -> dict[str, Any]:
        row = s.scalar(select(GroupJoinWay).where(GroupJoinWay.id == way.id))
        if row is None:  # deleted while WeCom made it: the delete found no config_id, so undo it here
            return {"config_id": config_id, "orphan": True}
        row.config_id, row.qr_code = config_id, made.get("qr_code", "")
        return {"config_id": config_id}

    result = ctx.finish(write)
    if result is not None and result.get("orphan"):
        ctx.client.post("externalcontact/groupchat/del_join_way", data={"config_id": config_id})
    return result


@effect("update_join_way")
def update_join_way(ctx: EffectContext, code_id: int) -> dict[str, Any] | None:
    found = _way(ctx, code_id)
    if found is None or not found[0].config_id:  # gone, or still being made (add sends the newest fields)
        return ctx.finish(lambda s: {"updated": None})
    way, state = found
    ctx.client.post("externalcontact/groupchat/update_join_way",
                    data={"config_id": way.config_id, **join_way_body(way, state)})
    return ctx.finish(lambda s: {"updated": way.config_id})


@effect("del_join_way")
def del_join_way(ctx: EffectContext, config_id: str) -> dict[str, Any] | None:
    ctx.client.post("externalcontact/groupchat/del_join_way", data={"config_id": config_id})
    return ctx.finish(lambda s: {"deleted": config_id})


@job("group_codes_recheck", queue="maintenance")
def group_codes_recheck_job() -> int:
    """Every live code's status from its groups now: QR codes expire and groups fill or free up between
    scans. Returns how many notices it queued."""
    runtime = current()
    now = utcnow()
    with runtime.WriteSession.begin() as s:
        rows = []
        for code in s.scalars(select(GroupCode).where(GroupCode.deleted_at.is_(None)).order_by(GroupCode.id)
                              .with_for_update()):
            ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
            recheck(ctx, code, now)
            rows += [(r.id, r.queue) for r in ctx.pending_outbox]
    enqueue_outbox(rows)
    return len(rows)
