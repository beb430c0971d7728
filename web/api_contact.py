"""Admin API for what a sales manager sets up around the moment a customer adds a member: channel codes
(员工活码), welcome messages (欢迎语), the material library, and corp settings.

The web layer never calls WeCom: creating, changing or deleting a code writes the row and an outbox row,
and the job layer makes the WeCom call after commit (answer 202 while it is pending).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.registry import HandlerContext
from jobs.queue import enqueue
from models import (ChannelCode, ChannelDailyStat, ChannelMember, CorpSettings, Material, Outbox, Role, Staff, Tag,
                    WelcomeMessage)
from models.db import get_or_create, utcnow
from rules.channels import code_errors
from rules.welcome import welcome_errors
from web import errors
from web.auth import audit, require
from web.errors import ApiError
from web.scope import corp_and_app

bp = Blueprint("api_contact", __name__, url_prefix="/api/v1")
errors.register(bp)

MATERIAL_KINDS = {"image": ("media_id",), "link": ("url",), "miniprogram": ("appid", "page", "pic_media_id")}


def _runtime() -> Any:
    return current_app.extensions["scrm"]


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "send a JSON object")
    return body


def _enqueue_after_commit(rows: list[Outbox]) -> None:
    for row in rows:
        enqueue("deliver_outbox", row.id, job_id=f"outbox-{row.id}", queue=row.queue)


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
    tags = s.scalars(select(Tag).where(Tag.corp_id == corp_id, Tag.id.in_(tag_pks), Tag.deleted_at.is_(None))).all()
    if len(tags) != len(set(tag_pks)):
        raise ApiError(422, "invalid", "unknown tag", {"tag_ids": "every tag must exist"})
    return [t.tag_id for t in tags]


def _code_json(s: Session, code: ChannelCode) -> dict[str, Any]:
    today = dt.date.today()
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
@bp.post("/channel-codes")
@require(Role.admin)
def create_codes() -> Any:
    """Create a code (single, multi) or one single code per member (batch_single)."""
    body = _json()
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.get("corp_id"))
        members = _userids(s, corp_id, body, "members", "departments")
        backups = _userids(s, corp_id, body, "backups", None)
        problems = code_errors(body, members, backups)
        welcome = body.get("welcome") or {}
        problems |= welcome_errors(str(welcome.get("text", "")), len(welcome.get("material_ids") or []), "code") \
            if welcome else {}
        if problems:
            raise ApiError(422, "invalid", "the channel code has errors", problems)
        tag_ids = _wecom_tag_ids(s, corp_id, body.get("tag_ids") or [])
        groups = [[m] for m in members] if body["kind"] == "batch_single" else [members]
        codes, outbox = [], []
        for group in groups:
            code = ChannelCode(
                corp_id=corp_id, app_pk=app_pk, kind=_kind_of(body["kind"], group),
                name=body["name"], scene=body.get("scene", ""), channel=body["channel"], state="pending",
                assign_mode=body.get("assign_mode", "round_robin"), daily_limit=body.get("daily_limit"),
                accept_policy=body.get("accept_policy", "auto"), tag_ids=tag_ids, remark=body.get("remark", ""),
                current_users=[group[0]], created_by=f"token:{g.principal.name}",
                members=[ChannelMember(userid=u, position=i) for i, u in enumerate(group)]
                + [ChannelMember(userid=u, position=i, is_backup=True) for i, u in enumerate(backups)],
            )
            s.add(code)
            s.flush()
            code.state = f"ch-{code.id}"  # WeCom echoes it as State: ≤30 chars, unique per corp
            if welcome:
                s.add(WelcomeMessage(corp_id=corp_id, scope="code", code_id=code.id, text=welcome.get("text", ""),
                                     material_ids=list(welcome.get("material_ids") or [])))
            ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)
            outbox.append(ctx.outbox("create_contact_way", {"app_pk": app_pk, "code_id": code.id},
                                     key=f"create_contact_way:{code.id}"))
            audit(s, "channel_code.create", f"channel_code:{code.id}", members=group)
            codes.append(code)
        s.flush()
        ids = [c.id for c in codes]
    _enqueue_after_commit(outbox)
    with _runtime().Session() as s:
        return jsonify({"items": [_code_json(s, s.get(ChannelCode, i)) for i in ids]}), 202


@bp.get("/channel-codes")
@require(Role.admin)
def list_codes() -> Any:
    query = select(ChannelCode).where(ChannelCode.deleted_at.is_(None)).order_by(ChannelCode.id.desc())
    if g.principal.corp_id:
        query = query.where(ChannelCode.corp_id == g.principal.corp_id)
    for arg in ("kind", "status", "scene"):
        if request.args.get(arg):
            query = query.where(getattr(ChannelCode, arg) == request.args[arg])
    if request.args.get("staff"):
        query = query.where(ChannelCode.members.any(ChannelMember.userid == request.args["staff"]))
    with _runtime().Session() as s:
        return jsonify({"items": [_code_json(s, c) for c in s.scalars(query.limit(200))]})


@bp.get("/channel-codes/<int:code_id>")
@require(Role.admin)
def get_code(code_id: int) -> Any:
    with _runtime().Session() as s:
        code = s.get(ChannelCode, code_id)
        if code is None or code.deleted_at is not None or g.principal.corp_id not in (None, code.corp_id):
            raise ApiError(404, "not_found", f"no channel code {code_id}")
        return jsonify(_code_json(s, code))


@bp.delete("/channel-codes/<int:code_id>")
@require(Role.admin)
def delete_code(code_id: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        code = s.get(ChannelCode, code_id)
        if code is None or code.deleted_at is not None or g.principal.corp_id not in (None, code.corp_id):
            raise ApiError(404, "not_found", f"no channel code {code_id}")
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
            "material_ids": w.material_ids, "start_minute": w.start_minute, "end_minute": w.end_minute}


@bp.post("/welcome-messages")
@require(Role.admin)
def create_welcome() -> Any:
    """A default welcome, or one member's; optionally only between start_minute and end_minute."""
    body = _json()
    scope = body.get("scope", "default")
    problems = welcome_errors(str(body.get("text", "")), len(body.get("material_ids") or []), scope)
    if scope not in ("default", "staff"):
        problems["scope"] = "default or staff (a code's welcome is set on the code)"
    if scope == "staff" and not body.get("userid"):
        problems["userid"] = "required for a member's welcome"
    window = (body.get("start_minute"), body.get("end_minute"))
    if window != (None, None) and not all(isinstance(m, int) and 0 <= m < 1440 for m in window):
        problems["start_minute"] = "both start_minute and end_minute, minutes since midnight (0-1439)"
    if problems:
        raise ApiError(422, "invalid", "the welcome message has errors", problems)
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.get("corp_id"))
        known = set(s.scalars(select(Material.id).where(Material.corp_id == corp_id, Material.deleted_at.is_(None))))
        if not set(body.get("material_ids") or []) <= known:
            raise ApiError(422, "invalid", "unknown material", {"material_ids": "every material must exist"})
        row = WelcomeMessage(corp_id=corp_id, scope=scope, userid=body.get("userid"), text=body.get("text", ""),
                             material_ids=list(body.get("material_ids") or []), start_minute=window[0],
                             end_minute=window[1])
        s.add(row)
        s.flush()
        audit(s, "welcome.create", f"welcome:{row.id}", scope=scope)
        return jsonify(_welcome_json(row)), 201


@bp.get("/welcome-messages")
@require(Role.admin)
def list_welcomes() -> Any:
    with _runtime().Session() as s:
        query = select(WelcomeMessage).where(WelcomeMessage.deleted_at.is_(None)).order_by(WelcomeMessage.id)
        if g.principal.corp_id:
            query = query.where(WelcomeMessage.corp_id == g.principal.corp_id)
        rows = s.scalars(query)
        return jsonify({"items": [_welcome_json(w) for w in rows]})


# -- materials -------------------------------------------------------------------------------------------
@bp.post("/materials")
@require(Role.admin)
def create_material() -> Any:
    body = _json()
    kind = body.get("kind")
    payload = body.get("payload") or {}
    if kind not in MATERIAL_KINDS:
        raise ApiError(422, "invalid", "bad material", {"kind": f"one of {', '.join(MATERIAL_KINDS)}"})
    needed = [k for k in MATERIAL_KINDS[kind] if not payload.get(k)]
    if kind == "image" and payload.get("pic_url"):
        needed = []
    if needed:
        raise ApiError(422, "invalid", "bad material", {"payload": f"needs {', '.join(needed)}"})
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.get("corp_id"))
        row = Material(corp_id=corp_id, kind=kind, title=str(body.get("title", ""))[:128], payload=payload)
        s.add(row)
        s.flush()
        audit(s, "material.create", f"material:{row.id}", kind=kind)
        return jsonify({"id": row.id, "kind": kind, "title": row.title, "payload": payload}), 201


# -- settings --------------------------------------------------------------------------------------------
SETTING_TYPES = {"mask_mobile_for_members": bool, "recycle_retention_days": int, "notify_manager_on_loss": bool}


def _settings_json(row: CorpSettings) -> dict[str, Any]:
    return {"corp_id": row.corp_id, **{k: getattr(row, k) for k in SETTING_TYPES}}


@bp.get("/settings")
@require(Role.admin)
def get_settings() -> Any:
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, request.args.get("corp_id"))
        row, _ = get_or_create(s, CorpSettings, {"corp_id": corp_id})
        return jsonify(_settings_json(row))


@bp.patch("/settings")
@require(Role.super_admin)
def patch_settings() -> Any:
    body = _json()
    bad = {k: f"must be {t.__name__}" for k, t in SETTING_TYPES.items()
           if k in body and (type(body[k]) is not t)}
    bad |= {k: "unknown setting" for k in body if k not in SETTING_TYPES and k != "corp_id"}
    days = body.get("recycle_retention_days")
    if days is not None and "recycle_retention_days" not in bad and days < 1:
        bad["recycle_retention_days"] = "at least 1"
    if bad:
        raise ApiError(422, "invalid", "bad settings", bad)
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.get("corp_id"))
        row, _ = get_or_create(s, CorpSettings, {"corp_id": corp_id})
        for key in SETTING_TYPES:
            if key in body:
                setattr(row, key, body[key])
        audit(s, "settings.update", f"corp:{corp_id}", **{k: body[k] for k in SETTING_TYPES if k in body})
        return jsonify(_settings_json(row))
