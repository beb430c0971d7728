"""Group channel codes (群活码, 004 §3.1) over the admin API: the codes, their real groups with QR images
and expiry, the order they are shown in, scan and join counts per day, and a code's WeCom join way
(web/api_group_join_way.py). The public page a scan opens is web/group_landing.py; which group it shows is
rules/group_codes.py. Admin role; a corp-bound token sees its corp; every write is audited."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from handlers.channels import corp_zone
from handlers.group_codes import candidate, drop_join_way, entries_of, locked_code, recheck
from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox
from models import CustomerGroup, GroupCode, GroupCodeDailyStat, GroupCodeEntry, GroupMember, Role
from models.db import utcnow
from rules.group_codes import decode_image, expiry_problem
from web import errors
from web.api import _like, _live, page_rows
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import actor, runtime
from web.schemas.common import Deleted, Page
from web.schemas.group_codes import (IMAGE_TEXT_CHARS, EntryChange, EntryIn, EntryOrder, GroupCodeChange, GroupCodeIn,
                                     GroupCodeOut, GroupCodeQuery, GroupCodeStats, StatsQuery)
from web.scope import corp_and_app, live_rows

bp = Blueprint("api_group_codes", __name__, url_prefix="/api/v1")
errors.register(bp)

IMAGE_BODY_BYTES = IMAGE_TEXT_CHARS + 4096  # a 2 MB image as base64, and the rest of the JSON
DEFAULT_LIFETIME = dt.timedelta(days=6)  # the default expiry day: today + 6, inside WeCom's 7 days


def _today(s: Session, corp_id: str) -> dt.date:
    return utcnow().astimezone(corp_zone(s, corp_id)).date()


def _end_of(s: Session, corp_id: str, day: dt.date) -> dt.datetime:
    """24:00 of the corp-local `day`, in UTC."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=corp_zone(s, corp_id))
    return midnight.astimezone(dt.UTC)


def _entry_json(entry: GroupCodeEntry, group: CustomerGroup, now: dt.datetime) -> dict[str, Any]:
    return {"id": entry.id, "chat_id": group.chat_id, "name": group.name, "position": entry.position,
            "members": group.staff_count + group.external_count, "expires_at": entry.expires_at.isoformat(),
            "usable": candidate(entry, group).usable(now), "image_type": entry.image_type,
            "image_bytes": entry.image_bytes}


def _render(s: Session, codes: list[GroupCode]) -> list[dict[str, Any]]:
    """Codes as the API shows them, in a few queries for the whole page."""
    ids = [c.id for c in codes]
    now = utcnow()
    groups = entries_of(s, ids)
    scans = dict(s.execute(select(GroupCodeDailyStat.code_id, func.sum(GroupCodeDailyStat.scans))
                           .where(GroupCodeDailyStat.code_id.in_(ids)).group_by(GroupCodeDailyStat.code_id)).all())
    joins = {(corp, state): n for corp, state, n in s.execute(
        select(GroupMember.corp_id, GroupMember.join_state, func.count()).where(
            GroupMember.join_state.in_({c.state for c in codes}), GroupMember.corp_id.in_({c.corp_id for c in codes}))
        .group_by(GroupMember.corp_id, GroupMember.join_state)).all()}
    return [{"id": c.id, "corp_id": c.corp_id, "name": c.name, "scene": c.scene, "channel": c.channel,
             "guide": c.guide, "strategy": c.strategy, "status": c.status, "owner": c.owner_userid,
             "created_by": c.created_by, "landing_path": f"/g/{c.slug}", "state": c.state,
             "groups": [_entry_json(e, grp, now) for e, grp in groups.get(c.id, [])],
             "scans": int(scans.get(c.id) or 0), "joins": joins.get((c.corp_id, c.state), 0),
             "created_at": c.created_at.isoformat()} for c in codes]


def live_code(s: Session, code_id: int) -> GroupCode:
    """The live code `code_id` of this token's corps, locked for the write, else 404."""
    _live(s, GroupCode, code_id, "group code")
    code = locked_code(s, code_id)
    assert code is not None
    return code


def _settled(s: Session, code: GroupCode) -> list[tuple[int, str]]:
    """After a change to a code or its groups: its status again (a notice if it just turned abnormal); the
    outbox rows to enqueue after commit."""
    ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
    s.flush()
    recheck(ctx, code, utcnow())
    s.flush()
    return [(r.id, r.queue) for r in ctx.pending_outbox]


def _answer(code_id: int, status: int = 200) -> Any:
    with runtime().Session() as s:
        return jsonify(_render(s, [s.get_one(GroupCode, code_id)])[0]), status


# -- codes --------------------------------------------------------------------------------------------------
@bp.get("/group-codes")
@require(Role.admin)
@endpoint("Group channel codes (群活码) with their groups, status and counts, newest first", query=GroupCodeQuery,
          response=Page[GroupCodeOut])
def list_group_codes(query: GroupCodeQuery) -> Any:
    rows = live_rows(GroupCode).order_by(None).order_by(GroupCode.id.desc())
    if query.status:
        rows = rows.where(GroupCode.status == query.status)
    if query.name:
        rows = rows.where(or_(GroupCode.name.like(_like(query.name), escape="\\"),
                              GroupCode.scene.like(_like(query.name), escape="\\")))
    return page_rows(rows, _render, query)


@bp.post("/group-codes")
@require(Role.admin)
@endpoint("Create a group channel code; its groups are added next (it is abnormal until one is)",
          body=GroupCodeIn, response=GroupCodeOut, status=201)
def create_group_code(body: GroupCodeIn) -> Any:
    owner = body.owner or g.principal.userid
    if owner is None:
        raise ApiError(422, "invalid", "owner: required for a token without a userid", {"owner": "required"})
    with runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        code = GroupCode(corp_id=corp_id, app_pk=app_pk, slug=secrets.token_urlsafe(24), state="pending",
                         name=body.name, scene=body.scene or "", channel=body.channel, guide=body.guide or "",
                         strategy=body.strategy, owner_userid=owner, creator_userid=g.principal.userid,
                         created_by=actor(), status="abnormal")  # no group yet: abnormal without a notice
        s.add(code)
        s.flush()
        code.state = f"gc-{code.id}"  # ≤30 characters, unique per corp: WeCom echoes it for joins
        audit(s, "group_code.create", f"group_code:{code.id}", name=body.name)
        code_id = code.id
    return _answer(code_id, 201)


@bp.get("/group-codes/<id:group_code_id>")
@require(Role.admin)
@endpoint("One group channel code", response=GroupCodeOut)
def get_group_code(group_code_id: int) -> Any:
    with runtime().Session() as s:
        _live(s, GroupCode, group_code_id, "group code")
    return _answer(group_code_id)


@bp.patch("/group-codes/<id:group_code_id>")
@require(Role.admin)
@endpoint("Change a group code's name, scene, channel, guide, strategy or owner (a field left out stays)",
          body=GroupCodeChange, response=GroupCodeOut)
def edit_group_code(group_code_id: int, body: GroupCodeChange) -> Any:
    changes = body.model_dump(exclude_none=True)
    with runtime().WriteSession.begin() as s:
        code = live_code(s, group_code_id)
        for key, value in changes.items():
            setattr(code, "owner_userid" if key == "owner" else key, value)
        if "strategy" in changes:
            code.next_index = 0
        audit(s, "group_code.update", f"group_code:{code.id}", **changes)
    return _answer(group_code_id)


@bp.delete("/group-codes/<id:group_code_id>")
@require(Role.admin)
@endpoint("Delete a group code: its page answers 404 from now on, and its join way is deleted in WeCom",
          response=Deleted)
def delete_group_code(group_code_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        code = live_code(s, group_code_id)
        code.deleted_at = utcnow()
        ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
        drop_join_way(ctx, code)
        rows = [(r.id, r.queue) for r in ctx.pending_outbox]
        audit(s, "group_code.delete", f"group_code:{code.id}")
    enqueue_outbox(rows)
    return jsonify({"id": group_code_id, "deleted": True})


# -- the code's groups --------------------------------------------------------------------------------------
def _image(text: str) -> tuple[bytes, str]:
    try:
        return decode_image(text)
    except ValueError as exc:
        raise ApiError(422, "invalid", f"qr_image: {exc}", {"qr_image": str(exc)}) from None


def _expiry(s: Session, corp_id: str, day: dt.date | None) -> dt.datetime:
    today = _today(s, corp_id)
    day = today + DEFAULT_LIFETIME if day is None else day
    problem = expiry_problem(day, today)
    if problem:
        raise ApiError(422, "invalid", f"expires_on: {problem}", {"expires_on": problem})
    return _end_of(s, corp_id, day)


@bp.post("/group-codes/<id:group_code_id>/groups")
@require(Role.admin, max_body=IMAGE_BODY_BYTES)
@endpoint("Add a real group (a customer group of the corp) with its QR image, last in the order",
          body=EntryIn, response=GroupCodeOut, status=201)
def add_group(group_code_id: int, body: EntryIn) -> Any:
    image, kind = _image(body.qr_image)
    with runtime().WriteSession.begin() as s:
        code = live_code(s, group_code_id)
        group = s.scalar(select(CustomerGroup).where(CustomerGroup.corp_id == code.corp_id,
                                                     CustomerGroup.chat_id == body.chat_id,
                                                     CustomerGroup.dismissed_at.is_(None)))
        if group is None:
            raise ApiError(422, "invalid", f"chat_id: no group {body.chat_id} in this corp",
                           {"chat_id": "a customer group of the code's corp"})
        if s.scalar(select(GroupCodeEntry.id).where(GroupCodeEntry.code_id == code.id,
                                                    GroupCodeEntry.group_id == group.id)) is not None:
            raise ApiError(409, "conflict", f"group {body.chat_id} is already in this code: change its QR instead")
        last = s.scalar(select(func.max(GroupCodeEntry.position)).where(GroupCodeEntry.code_id == code.id))
        entry = GroupCodeEntry(code_id=code.id, group_id=group.id, position=(last or 0) + 1, image=image,
                               image_type=kind, image_bytes=len(image),
                               expires_at=_expiry(s, code.corp_id, body.expires_on))
        s.add(entry)
        rows = _settled(s, code)
        audit(s, "group_code.add_group", f"group_code:{code.id}", chat_id=body.chat_id, entry_id=entry.id)
    enqueue_outbox(rows)
    return _answer(group_code_id, 201)


def _entry(s: Session, code: GroupCode, entry_id: int) -> GroupCodeEntry:
    entry = s.get(GroupCodeEntry, entry_id)
    if entry is None or entry.code_id != code.id:
        raise ApiError(404, "not_found", f"no group {entry_id} in group code {code.id}")
    return entry


@bp.patch("/group-codes/<id:group_code_id>/groups/<id:entry_id>")
@require(Role.admin, max_body=IMAGE_BODY_BYTES)
@endpoint("Replace a group's QR image or its expiry (a new WeCom QR every 7 days)", body=EntryChange,
          response=GroupCodeOut)
def change_group(group_code_id: int, entry_id: int, body: EntryChange) -> Any:
    image = _image(body.qr_image) if body.qr_image is not None else None
    with runtime().WriteSession.begin() as s:
        code = live_code(s, group_code_id)
        entry = _entry(s, code, entry_id)
        if image is not None:
            entry.image, entry.image_type, entry.image_bytes = image[0], image[1], len(image[0])
        if image is not None or body.expires_on is not None:
            entry.expires_at = _expiry(s, code.corp_id, body.expires_on)
        rows = _settled(s, code)
        audit(s, "group_code.change_group", f"group_code:{code.id}", entry_id=entry_id,
              image=image is not None, expires_on=str(body.expires_on or ""))
    enqueue_outbox(rows)
    return _answer(group_code_id)


@bp.delete("/group-codes/<id:group_code_id>/groups/<id:entry_id>")
@require(Role.admin)
@endpoint("Take a group out of the code", response=GroupCodeOut)
def remove_group(group_code_id: int, entry_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        code = live_code(s, group_code_id)
        s.delete(_entry(s, code, entry_id))
        code.next_index = 0
        rows = _settled(s, code)
        audit(s, "group_code.remove_group", f"group_code:{code.id}", entry_id=entry_id)
    enqueue_outbox(rows)
    return _answer(group_code_id)


@bp.put("/group-codes/<id:group_code_id>/groups/order")
@require(Role.admin)
@endpoint("Put the code's groups in a new order (every one of them, each once)", body=EntryOrder,
          response=GroupCodeOut)
def order_groups(group_code_id: int, body: EntryOrder) -> Any:
    with runtime().WriteSession.begin() as s:
        code = live_code(s, group_code_id)
        rows = {e.id: e for e in s.scalars(select(GroupCodeEntry).where(GroupCodeEntry.code_id == code.id))}
        if sorted(body.entry_ids) != sorted(rows):
            raise ApiError(422, "invalid", "entry_ids: every group of the code, each once",
                           {"entry_ids": f"exactly the ids {sorted(rows)} in the order wanted"})
        for position, entry_id in enumerate(body.entry_ids, start=1):
            rows[entry_id].position = position
        code.next_index = 0
        audit(s, "group_code.order", f"group_code:{code.id}", entry_ids=body.entry_ids)
    return _answer(group_code_id)


# -- counts -------------------------------------------------------------------------------------------------
@bp.get("/group-codes/<id:group_code_id>/stats")
@require(Role.admin)
@endpoint("Scans and joins per corp-local day (joins: members whose state names the code's join way)",
          query=StatsQuery, response=GroupCodeStats)
def group_code_stats(group_code_id: int, query: StatsQuery) -> Any:
    with runtime().Session() as s:
        code = _live(s, GroupCode, group_code_id, "group code")
        zone = corp_zone(s, code.corp_id)
        today = _today(s, code.corp_id)
        first = today - dt.timedelta(days=query.days - 1)
        scans = s.execute(select(GroupCodeDailyStat.day, GroupCodeDailyStat.chat_id, GroupCodeDailyStat.scans)
                          .where(GroupCodeDailyStat.code_id == code.id, GroupCodeDailyStat.day >= first)).all()
        since = dt.datetime.combine(first, dt.time(), tzinfo=zone).astimezone(dt.UTC)
        joined = s.scalars(select(GroupMember.joined_at).where(
            GroupMember.corp_id == code.corp_id, GroupMember.join_state == code.state, GroupMember.joined_at >= since))
        joins: dict[dt.date, int] = {}
        for at in joined:
            day = at.astimezone(zone).date()
            joins[day] = joins.get(day, 0) + 1
    per_day: dict[dt.date, int] = {}
    per_group: dict[str, int] = {}
    for day, chat_id, n in scans:
        per_day[day] = per_day.get(day, 0) + n
        per_group[chat_id] = per_group.get(chat_id, 0) + n
    days = [first + dt.timedelta(days=i) for i in range(query.days)]
    return jsonify({"days": [{"day": d.isoformat(), "scans": per_day.get(d, 0), "joins": joins.get(d, 0)}
                             for d in days],
                    "scans": sum(per_day.values()), "joins": sum(joins.values()),
                    "by_group": [{"chat_id": c, "scans": n} for c, n in sorted(per_group.items())]})

