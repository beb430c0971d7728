"""Channels (渠道, manual 9.14 渠道设置; 3.2 使用渠道) over the admin API: name and use scene (both required),
the channel codes and group codes grouped under one, and the list with its counts (customers added through its
channel codes, the latest add, its codes), filtered by keyword. Its report is web/api_channel_report.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from models import Channel, ChannelCode, ChannelDailyStat, FollowRelation, GroupCode, Role
from models.db import utcnow
from web import errors
from web.api import _like, _live, page_rows
from web.api_customers import _iso
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import actor, runtime
from web.schemas.channels import ChannelChange, ChannelIn, ChannelOut, ChannelQuery
from web.schemas.common import Deleted, Page
from web.scope import corp_and_app, live_rows

bp = Blueprint("api_channels", __name__, url_prefix="/api/v1")
errors.register(bp)

GROUPED = (("code_ids", ChannelCode), ("group_code_ids", GroupCode))


def render(s: Session, rows: list[Channel]) -> list[dict[str, Any]]:
    """The page's channels with their codes and counts, a few queries for the whole page."""
    ids = [c.id for c in rows]
    codes: dict[int, list[int]] = {}
    groups: dict[int, list[int]] = {}
    for key, model in GROUPED:
        into = codes if key == "code_ids" else groups
        for channel_id, code_id in s.execute(select(model.channel_id, model.id).where(
                model.channel_id.in_(ids), model.deleted_at.is_(None)).order_by(model.id)):
            into.setdefault(channel_id or 0, []).append(code_id)
    adds = dict(s.execute(select(ChannelCode.channel_id, func.sum(ChannelDailyStat.adds))
                          .join(ChannelDailyStat, ChannelDailyStat.code_id == ChannelCode.id)
                          .where(ChannelCode.channel_id.in_(ids)).group_by(ChannelCode.channel_id)).all())
    latest = dict(s.execute(select(ChannelCode.channel_id, func.max(FollowRelation.added_at))
                            .join(FollowRelation, FollowRelation.channel_code_id == ChannelCode.id)
                            .where(ChannelCode.channel_id.in_(ids)).group_by(ChannelCode.channel_id)).all())
    return [{"id": c.id, "corp_id": c.corp_id, "name": c.name, "scene": c.scene, "code_ids": codes.get(c.id, []),
             "group_code_ids": groups.get(c.id, []), "customers_added": int(adds.get(c.id) or 0),
             "last_added_at": _iso(latest.get(c.id)), "created_at": _iso(c.created_at)} for c in rows]


def _group(s: Session, channel: Channel, given: dict[str, Any]) -> None:
    """Put the named codes under `channel` and take the others out of it: every id a live code of its
    corp (422 naming the field otherwise). A code moves from another channel to this one."""
    for key, model in GROUPED:
        if given.get(key) is None:
            continue
        wanted = set(given[key])
        found = set(s.scalars(select(model.id).where(model.id.in_(wanted), model.corp_id == channel.corp_id,
                                                     model.deleted_at.is_(None))))
        if found != wanted:
            raise ApiError(422, "invalid", "the channel has errors",
                           {key: f"no codes {sorted(wanted - found)[:20]} in this corp"})
        s.execute(update(model).where(model.channel_id == channel.id, model.id.not_in(wanted)).values(channel_id=None))
        if wanted:
            s.execute(update(model).where(model.id.in_(wanted)).values(channel_id=channel.id))


def _name_taken(s: Session, corp_id: str, name: str, but: int | None = None) -> None:
    taken = s.scalar(select(Channel.id).where(Channel.corp_id == corp_id, Channel.name == name,
                                              Channel.deleted_at.is_(None), Channel.id != (but or 0)))
    if taken is not None:
        raise ApiError(409, "conflict", f"a channel named {name!r} exists", {"name": "taken"})


def _one(channel_id: int) -> Any:
    with runtime().Session() as s:
        return render(s, [s.get_one(Channel, channel_id)])[0]


@bp.get("/channels")
@require(Role.admin)
@endpoint("Channels (渠道) with their codes and counts, newest first; keyword: name or scene contains",
          query=ChannelQuery, response=Page[ChannelOut])
def list_channels(query: ChannelQuery) -> Any:
    rows = live_rows(Channel).order_by(None).order_by(Channel.id.desc())
    if query.corp_id:
        rows = rows.where(Channel.corp_id == query.corp_id)
    if query.keyword:
        pattern = _like(query.keyword)
        rows = rows.where(or_(Channel.name.like(pattern, escape="\\"), Channel.scene.like(pattern, escape="\\")))
    return page_rows(rows, render, query)


@bp.post("/channels")
@require(Role.admin)
@endpoint("Create a channel (name and scene required), grouping codes under it", body=ChannelIn,
          response=ChannelOut, status=201)
def create_channel(body: ChannelIn) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _name_taken(s, corp_id, body.name)
        channel = Channel(corp_id=corp_id, name=body.name, scene=body.scene, created_by=actor())
        s.add(channel)
        s.flush()
        _group(s, channel, body.model_dump())
        audit(s, "channel.create", f"channel:{channel.id}", name=body.name, scene=body.scene,
              code_ids=body.code_ids, group_code_ids=body.group_code_ids)
        channel_id = channel.id
    return jsonify(_one(channel_id)), 201


@bp.get("/channels/<id:channel_id>")
@require(Role.admin)
@endpoint("One channel with its codes and counts", response=ChannelOut)
def get_channel(channel_id: int) -> Any:
    with runtime().Session() as s:
        _live(s, Channel, channel_id, "channel")
    return jsonify(_one(channel_id))


@bp.patch("/channels/<id:channel_id>")
@require(Role.admin)
@endpoint("Rename a channel, change its scene or the codes under it", body=ChannelChange, response=ChannelOut)
def update_channel(channel_id: int, body: ChannelChange) -> Any:
    given = body.model_dump(exclude_unset=True)
    if not any(v is not None for v in given.values()):
        raise ApiError(422, "invalid", "the channel has errors",
                       {"body": "give name, scene, code_ids or group_code_ids"})
    with runtime().WriteSession.begin() as s:
        channel = _live(s, Channel, channel_id, "channel")
        if given.get("name") and given["name"] != channel.name:
            _name_taken(s, channel.corp_id, given["name"], channel.id)
            channel.name = given["name"]
        if given.get("scene"):
            channel.scene = given["scene"]
        _group(s, channel, given)
        audit(s, "channel.update", f"channel:{channel.id}", **given)
    return jsonify(_one(channel_id))


@bp.delete("/channels/<id:channel_id>")
@require(Role.admin)
@endpoint("Delete a channel: its codes stay, ungrouped", response=Deleted)
def delete_channel(channel_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        channel = _live(s, Channel, channel_id, "channel")
        channel.deleted_at = utcnow()
        for _, model in GROUPED:
            s.execute(update(model).where(model.channel_id == channel.id).values(channel_id=None))
        audit(s, "channel.delete", f"channel:{channel.id}")
    return jsonify({"id": channel_id, "deleted": True})

