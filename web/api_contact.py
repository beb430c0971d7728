"""Admin API for what a sales manager sets up around the moment a customer adds a member: channel codes
(员工活码), welcome messages (欢迎语), the material library, and corp settings.

The web layer never calls WeCom: creating, changing or deleting a code writes the row and an outbox row,
and the job layer makes the WeCom call after commit (answer 202 while it is pending).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.channels import corp_zone, rotate
from handlers.registry import HandlerContext
from handlers.tags import is_pending
from jobs.queue import enqueue_outbox
from jobs.welcome import attachable
from web.api import _live
from models import (ChannelCode, ChannelDailyStat, ChannelMember, CorpSettings, Material, Outbox, Role, Staff, Tag,
                    WelcomeMessage)
from models.db import get_or_create, utcnow
from rules.channels import code_errors
from rules.welcome import welcome_errors
from web import errors
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import CorpQuery, Deleted, Items
from web.schemas.contact import (CodeChange, CodeIn, CodeOut, CodeQuery, SettingsChange, SettingsOut,
                                 WelcomeMessageIn, WelcomeOut)
from web.scope import corp_and_app
from web.welcome_parts import attachment_count, group_qr_problems

bp = Blueprint("api_contact", __name__, url_prefix="/api/v1")
errors.register(bp)

def _runtime() -> Any:
    return current_app.extensions["scrm"]


def _enqueue_after_commit(rows: list[Outbox]) -> None:
    enqueue_outbox((row.id, row.queue) for row in rows)


def _check_materials(s: Session, corp_id: str, ids: list[int]) -> None:
    known = set(s.scalars(select(Material.id).where(Material.corp_id == corp_id, Material.deleted_at.is_(None),
                                                    attachable())))
    if not set(ids) <= known:
        raise ApiError(422, "invalid", "unknown material",
                       {"material_ids": "every material must exist and be an image, link or mini-program"})


def _userids(s: Session, corp_id: str, body: dict[str, Any], key: str, departments_key: str | None) -> list[str]:
    """Userids named directly, plus members of the named departments (expanded, order kept, no repeats)."""
    named = [str(u) for u in body.get(key) or []]
    if departments_key and body.get(departments_key):
        wanted = {int(d) for d in body[departments_key]}
        for staff in s.scalars(select(Staff).where(Staff.corp_id == corp_id).order_by(Staff.id)):
            if wanted & {int(d) for d in staff.department or []}:
                named.append(staff.userid)
    return list(dict.fromkeys(named))


def _wecom_tag_ids(s: Session, corp_id: str, tag_pks: list[Any]) -> list[str]:
    """WeCom's ids of our tags; a tag still waiting for its WeCom id counts as unknown (mark_tag would fail)."""
    tags = s.scalars(select(Tag).where(Tag.corp_id == corp_id, Tag.id.in_(tag_pks), Tag.deleted_at.is_(None))).all()
    if len(tags) != len(set(tag_pks)) or any(is_pending(t.tag_id) for t in tags):
        raise ApiError(422, "invalid", "unknown tag", {"tag_ids": "every tag must exist in WeCom"})
    wecom_ids = {t.id: t.tag_id for t in tags}
    return list(dict.fromkeys(wecom_ids[pk] for pk in tag_pks))  # in the caller's order


def _code_json(s: Session, code: ChannelCode) -> dict[str, Any]:
    today = utcnow().astimezone(corp_zone(s, code.corp_id)).date()
    stats = s.execute(select(ChannelDailyStat.day, func.sum(ChannelDailyStat.adds)).where(
        ChannelDailyStat.code_id == code.id, ChannelDailyStat.day >= today - dt.timedelta(days=30))
        .group_by(ChannelDailyStat.day).order_by(ChannelDailyStat.day)).all()
    return {
        "id": code.id, "corp_id": code.corp_id, "kind": code.kind, "name": code.name, "scene": code.scene,
        "channel": code.channel, "state": code.state, "config_id": code.config_id, "qr_code": code.qr_code,
        "assign_mode": code.assign_mode, "daily_limit": code.daily_limit, "accept_policy": code.accept_policy,
        "tag_ids": code.tag_ids, "remark": code.remark, "status": code.status,
        "members": [m.userid for m in code.members if not m.is_backup],
        "backups": [m.userid for m in code.members if m.is_backup],
        "current_users": code.current_users, "pending": code.config_id is None,
        "adds_by_day": [{"day": d.isoformat(), "adds": int(n)} for d, n in stats],
        "created_at": code.created_at.isoformat(),
    }


def _kind_of(requested: str, group: list[str]) -> str:
    """A batch creates single codes; a multi code stays multi even with one member (more may be added)."""
    return "single" if len(group) == 1 and requested != "multi" else "multi"


# -- channel codes ---------------------------------------------------------------------------------------
EDITABLE = ("name", "scene", "channel", "remark", "assign_mode", "daily_limit", "accept_policy")


def _checked_code(s: Session, corp_id: str, body: dict[str, Any], base: dict[str, Any]
                  ) -> tuple[dict[str, Any], list[str], list[str], list[str], dict[str, Any] | None]:
    """A code definition, `base` (the stored code, for an edit) overlaid with `body` (the given fields of a
    `CodeChange`), checked whole: (fields, members, backups, WeCom tag ids, welcome or None when the body
    names none). 422 otherwise."""
    welcome = body.get("welcome")
    fields = {**base, **{k: body[k] for k in (*EDITABLE, "kind") if k in body}}
    members = (_userids(s, corp_id, body, "members", "departments")
               if "members" in body or "departments" in body else base["members"])
    backups = _userids(s, corp_id, body, "backups", None) if "backups" in body else base["backups"]
    problems = code_errors(fields, members, backups)
    if welcome:
        problems |= welcome_errors(welcome.get("text", ""), attachment_count(welcome), "code")
        problems |= group_qr_problems(s, corp_id, welcome.get("group_code_id"))
    if problems:
        raise ApiError(422, "invalid", "the channel code has errors", problems)
    tag_ids = _wecom_tag_ids(s, corp_id, body["tag_ids"] or []) if "tag_ids" in body else base["tag_ids"]
    _check_materials(s, corp_id, (welcome or {}).get("material_ids") or [])
    return fields, members, backups, tag_ids, welcome


def _set_people(code: ChannelCode, members: list[str], backups: list[str]) -> None:
    code.members = [ChannelMember(userid=u, position=i) for i, u in enumerate(members)] \
        + [ChannelMember(userid=u, position=i, is_backup=True) for i, u in enumerate(backups)]


def _set_welcome(s: Session, code: ChannelCode, welcome: dict[str, Any]) -> None:
    """The code's own welcome, replacing the one it had (an empty object removes it)."""
    for old in s.scalars(select(WelcomeMessage).where(WelcomeMessage.code_id == code.id,
                                                      WelcomeMessage.deleted_at.is_(None))):
        old.deleted_at = utcnow()
    if welcome:
        s.add(WelcomeMessage(corp_id=code.corp_id, scope="code", code_id=code.id, text=welcome.get("text", ""),
                             group_code_id=welcome.get("group_code_id"),
                             group_qr_as=welcome.get("group_qr_as") or "image",
                             material_ids=list(welcome.get("material_ids") or [])))


def _today(s: Session, corp_id: str) -> dt.date:
    return utcnow().astimezone(corp_zone(s, corp_id)).date()


@bp.post("/channel-codes")
@require(Role.admin)
@endpoint("Create a channel code (活码), or one per member with batch_single (202)", body=CodeIn,
          response=Items[CodeOut], status=202)
def create_codes(body: CodeIn) -> Any:
    """Create a code (single, multi) or one single code per member (batch_single)."""
    given = body.model_dump(exclude_unset=True, exclude={"corp_id"})
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        fields, members, backups, tag_ids, welcome = _checked_code(
            s, corp_id, given, {"members": [], "backups": [], "tag_ids": []})
        groups = [[m] for m in members] if body.kind == "batch_single" else [members]
        codes, outbox = [], []
        for group in groups:
            code = ChannelCode(
                corp_id=corp_id, app_pk=app_pk, kind=_kind_of(body.kind, group),
                name=fields["name"], scene=fields.get("scene", ""), channel=fields["channel"], state="pending",
                assign_mode=fields.get("assign_mode", "round_robin"), daily_limit=fields.get("daily_limit"),
                accept_policy=fields.get("accept_policy", "auto"), tag_ids=tag_ids, remark=fields.get("remark", ""),
                current_users=[group[0]], created_by=f"token:{g.principal.name}",
            )
            _set_people(code, group, backups)
            s.add(code)
            s.flush()
            code.state = f"ch-{code.id}"  # WeCom echoes it as State: ≤30 chars, unique per corp
            if welcome:
                _set_welcome(s, code, welcome)
            ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)
            # The first member who can take a customer today (not one who left or is at the limit).
            rotate(ctx, code, _today(s, corp_id), reason="create")
            outbox.append(ctx.outbox("create_contact_way", {"app_pk": app_pk, "code_id": code.id},
                                     key=f"create_contact_way:{code.id}"))
            audit(s, "channel_code.create", f"channel_code:{code.id}", members=group)
            codes.append(code)
        s.flush()
        ids = [c.id for c in codes]
    _enqueue_after_commit(outbox)
    with _runtime().Session() as s:
        return jsonify({"items": [_code_json(s, s.get(ChannelCode, i)) for i in ids]}), 202


def _live_code(s: Session, code_id: int) -> ChannelCode:
    return _live(s, ChannelCode, code_id, "channel code")


@bp.patch("/channel-codes/<id:code_id>")
@require(Role.admin)
@endpoint("Change a code's settings, members, backups, tags or welcome (202: update_contact_way); not its kind",
          body=CodeChange, response=CodeOut, status=202)
def edit_code(code_id: int, body: CodeChange) -> Any:
    """Change a code's settings, people, tags or welcome; WeCom's copy is rewritten (update_contact_way).
    The kind is fixed: WeCom cannot turn a single-member way into a multi-member one."""
    given = body.model_dump(exclude_unset=True)
    with _runtime().WriteSession.begin() as s:
        code = _live_code(s, code_id)
        if "kind" in given and given["kind"] != code.kind:
            raise ApiError(422, "invalid", "the channel code has errors", {"kind": "cannot be changed"})
        base = {**{k: getattr(code, k) for k in (*EDITABLE, "kind", "tag_ids")},
                "members": [m.userid for m in code.members if not m.is_backup],
                "backups": [m.userid for m in code.members if m.is_backup]}
        fields, members, backups, tag_ids, welcome = _checked_code(s, code.corp_id, given, base)
        for key in EDITABLE:
            setattr(code, key, fields.get(key))
        code.tag_ids = tag_ids
        if (members, backups) != (base["members"], base["backups"]):
            code.members = []
            s.flush()  # the old rows go before the new ones arrive: (code, userid, is_backup) is unique
            _set_people(code, members, backups)
            code.next_index = 0  # the round-robin cursor pointed into the old list
        if welcome is not None:
            _set_welcome(s, code, welcome)
        ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
        reason = f"edit:{uuid.uuid4().hex}"
        row = rotate(ctx, code, _today(s, code.corp_id), reason=reason)
        if row is None and code.config_id:  # nobody new to route to, but the settings changed
            row = ctx.outbox("update_contact_way", {"app_pk": code.app_pk, "code_id": code.id},
                             key=f"rotate:{code.id}:{reason}")
        audit(s, "channel_code.update", f"channel_code:{code.id}", fields=sorted(given))
    _enqueue_after_commit([row] if row is not None else [])
    with _runtime().Session() as s:
        return jsonify(_code_json(s, s.get(ChannelCode, code_id))), 202


@bp.get("/channel-codes")
@require(Role.admin)
@endpoint("Channel codes with members, status and adds per day (the newest 200)", query=CodeQuery,
          response=Items[CodeOut])
def list_codes(query: CodeQuery) -> Any:
    rows = select(ChannelCode).where(ChannelCode.deleted_at.is_(None)).order_by(ChannelCode.id.desc())
    if g.principal.corp_id:
        rows = rows.where(ChannelCode.corp_id == g.principal.corp_id)
    for arg in ("kind", "status", "scene"):
        if getattr(query, arg):
            rows = rows.where(getattr(ChannelCode, arg) == getattr(query, arg))
    if query.staff:
        rows = rows.where(ChannelCode.members.any(ChannelMember.userid == query.staff))
    with _runtime().Session() as s:
        return jsonify({"items": [_code_json(s, c) for c in s.scalars(rows.limit(200))]})


@bp.get("/channel-codes/<id:code_id>")
@require(Role.admin)
@endpoint("One channel code", response=CodeOut)
def get_code(code_id: int) -> Any:
    with _runtime().Session() as s:
        return jsonify(_code_json(s, _live_code(s, code_id)))


@bp.delete("/channel-codes/<id:code_id>")
@require(Role.admin)
@endpoint("Delete a channel code (202: del_contact_way)", response=Deleted, status=202)
def delete_code(code_id: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        code = _live_code(s, code_id)
        code.deleted_at = utcnow()
        ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
        row = ctx.outbox("delete_contact_way", {"app_pk": code.app_pk, "code_id": code.id},
                         key=f"delete_contact_way:{code.id}")
        audit(s, "channel_code.delete", f"channel_code:{code.id}")
    _enqueue_after_commit([row])
    return jsonify({"id": code_id, "deleted": True}), 202


# -- welcome messages ------------------------------------------------------------------------------------
def _welcome_json(w: WelcomeMessage) -> dict[str, Any]:
    return {"id": w.id, "scope": w.scope, "userid": w.userid, "code_id": w.code_id, "text": w.text,
            "material_ids": w.material_ids, "start_minute": w.start_minute, "end_minute": w.end_minute,
            "group_code_id": w.group_code_id, "group_qr_as": w.group_qr_as}


@bp.post("/welcome-messages")
@require(Role.admin)
@endpoint("A default or per-member welcome, optionally for a time of day", body=WelcomeMessageIn,
          response=WelcomeOut, status=201)
def create_welcome(body: WelcomeMessageIn) -> Any:
    """A default welcome, or one member's; optionally only between start_minute and end_minute."""
    scope = body.scope
    problems = welcome_errors(body.text, attachment_count(body.model_dump()), scope)
    if scope == "staff" and not body.userid:
        problems["userid"] = "required for a member's welcome"
    window = (body.start_minute, body.end_minute)
    if window != (None, None) and (window[0] == window[1] or None in window):
        problems["start_minute"] = "both start_minute and end_minute, different minutes since midnight (0-1439)"
    if problems:
        raise ApiError(422, "invalid", "the welcome message has errors", problems)
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _check_materials(s, corp_id, body.material_ids)
        qr = group_qr_problems(s, corp_id, body.group_code_id)
        if qr:
            raise ApiError(422, "invalid", "the welcome message has errors", qr)
        row = WelcomeMessage(corp_id=corp_id, scope=scope, userid=body.userid, text=body.text,
                             material_ids=list(body.material_ids), start_minute=window[0], end_minute=window[1],
                             group_code_id=body.group_code_id, group_qr_as=body.group_qr_as)
        s.add(row)
        s.flush()
        audit(s, "welcome.create", f"welcome:{row.id}", scope=scope)
        return jsonify(_welcome_json(row)), 201


@bp.get("/welcome-messages")
@require(Role.admin)
@endpoint("Welcome messages", response=Items[WelcomeOut])
def list_welcomes() -> Any:
    with _runtime().Session() as s:
        query = select(WelcomeMessage).where(WelcomeMessage.deleted_at.is_(None)).order_by(WelcomeMessage.id)
        if g.principal.corp_id:
            query = query.where(WelcomeMessage.corp_id == g.principal.corp_id)
        rows = s.scalars(query)
        return jsonify({"items": [_welcome_json(w) for w in rows]})


@bp.delete("/welcome-messages/<id:welcome_id>")
@require(Role.admin)
@endpoint("Stop using a default or per-member welcome", response=Deleted)
def delete_welcome(welcome_id: int) -> Any:
    """Stop using a welcome (a code's own welcome is changed through the code)."""
    with _runtime().WriteSession.begin() as s:
        row = s.get(WelcomeMessage, welcome_id)
        if row is None or row.deleted_at is not None or row.scope == "code" \
                or g.principal.corp_id not in (None, row.corp_id):
            raise ApiError(404, "not_found", f"no welcome message {welcome_id}")
        row.deleted_at = utcnow()
        audit(s, "welcome.delete", f"welcome:{row.id}")
    return jsonify({"id": welcome_id, "deleted": True})


# -- settings --------------------------------------------------------------------------------------------
SETTINGS = ("mask_mobile_for_members", "recycle_retention_days", "notify_manager_on_loss", "allow_stage_skip",
            "allow_reopen_lost", "notify_owner_on_group_quit", "notify_manager_on_staff_delete")


def _settings_json(row: CorpSettings) -> dict[str, Any]:
    return {"corp_id": row.corp_id, **{k: getattr(row, k) for k in SETTINGS}}


@bp.get("/settings")
@require(Role.admin)
@endpoint("Corp settings (参数设置)", query=CorpQuery, response=SettingsOut)
def get_settings(query: CorpQuery) -> Any:
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        row, _ = get_or_create(s, CorpSettings, {"corp_id": corp_id})
        return jsonify(_settings_json(row))


@bp.patch("/settings")
@require(Role.super_admin)
@endpoint("Change corp settings (a setting left out or null stays)", body=SettingsChange, response=SettingsOut)
def patch_settings(body: SettingsChange) -> Any:
    changes = body.model_dump(exclude_none=True, exclude={"corp_id"})
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        row, _ = get_or_create(s, CorpSettings, {"corp_id": corp_id})
        for key, value in changes.items():
            setattr(row, key, value)
        audit(s, "settings.update", f"corp:{corp_id}", **changes)
        return jsonify(_settings_json(row))
