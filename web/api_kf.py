"""Admin API for WeChat customer service (微信客服, 004 §12, §9.8, §6.1): accounts with their servicers and
scene links, the knowledge base the bot answers from, the conversation rules, and the sessions.

What WeCom must do (create an account, add servicers, make a link) is an outbox row answered 202; the job
fills in WeCom's answer (open_kfid, url) or the refusal on the row. Nothing here calls WeCom.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from handlers.kf import OPEN_STATES, end_session, kf_settings
from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox
from models import App, Corp, KfAccount, KfScene, KfServicer, KfSession, Message, Role, Staff
from models.directory import OrgChart
from models.db import utcnow
from models.kf import MAX_ACCOUNTS_PER_CORP, ServicerStatus, SessionState
from web import errors
from web.api import _live, _runtime, page, time_filter
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import CorpQuery, DeletedId, Items, Page
from web.schemas.kf import (MAX_SERVICERS_PER_CALL, AccountChange, AccountIn, AccountOut, KfSettingsChange,
                            KfSettingsOut, SceneIn, ServicerRemoved, ServicersIn, SessionDetail, SessionOut,
                            SessionQuery)
from web.scope import corp_and_app

bp = Blueprint("api_kf", __name__, url_prefix="/api/v1")
errors.register(bp)

def _kf_app(s: Session, requested: str | None) -> tuple[str, int]:
    """The corp, and the app whose secret calls the kf APIs: its 微信客服 app if it has one, else the app
    corp_and_app picks (a self-built app granted the kf API permission)."""
    corp_id, app_pk = corp_and_app(s, requested)
    kf_app = s.scalar(select(App.id).join(Corp).where(Corp.corp_id == corp_id, App.kind == "kf").order_by(App.id))
    return corp_id, kf_app or app_pk


def _scoped(query: Select, column: Any) -> Select:
    return query.where(column == g.principal.corp_id) if g.principal.corp_id else query


def _live_account(s: Session, account_pk: int) -> KfAccount:
    return _live(s, KfAccount, account_pk, "kf account")


def _account_json(s: Session, a: KfAccount) -> dict[str, Any]:
    servicers = s.scalars(select(KfServicer).where(KfServicer.account_pk == a.id).order_by(KfServicer.userid))
    scenes = s.scalars(select(KfScene).where(KfScene.account_pk == a.id).order_by(KfScene.id))
    return {
        "id": a.id, "corp_id": a.corp_id, "open_kfid": a.open_kfid, "name": a.name, "media_id": a.media_id,
        "rule": a.rule, "max_sessions": a.max_sessions, "welcome_text": a.welcome_text, "status": a.status,
        "error": a.error,
        "servicers": [{"userid": v.userid, "status": v.status, "error": v.error} for v in servicers],
        "scenes": [{"id": c.id, "name": c.name, "scene": c.scene, "url": c.url, "status": c.status,
                    "error": c.error} for c in scenes],
    }


def _changes(body: Any) -> dict[str, Any]:
    """The fields a body gives (null or absent: unchanged), as stored: enums as their values."""
    return body.model_dump(mode="json", exclude_none=True, exclude={"corp_id"})


def _nothing_given(fields: dict[str, Any], what: str, names: str) -> None:
    if not fields:
        raise ApiError(422, "invalid", f"the {what} has errors", {"body": f"give {names}"})


def _plan(s: Session, corp_id: str, job: str, args: dict[str, Any], key: str) -> list[tuple[int, str]]:
    ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=args["app_pk"])
    row = ctx.outbox(job, args, key=key)
    return [(row.id, row.queue)]


# -- accounts ------------------------------------------------------------------------------------------------
@bp.get("/kf/accounts")
@require(Role.admin)
@endpoint("Customer-service accounts with servicers and scene links", response=Items[AccountOut])
def list_accounts() -> Any:
    query = _scoped(select(KfAccount).where(KfAccount.deleted_at.is_(None)).order_by(KfAccount.id),
                    KfAccount.corp_id)
    with _runtime().Session() as s:
        return jsonify({"items": [_account_json(s, a) for a in s.scalars(query)]})


@bp.post("/kf/accounts")
@require(Role.admin)
@endpoint("Create a kf account (202: kf/account/add; at most 10 per corp)", body=AccountIn, response=AccountOut,
          status=202)
def create_account(body: AccountIn) -> Any:
    fields = _changes(body)
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = _kf_app(s, body.corp_id)
        live = s.scalar(select(func.count()).select_from(KfAccount).where(
            KfAccount.corp_id == corp_id, KfAccount.deleted_at.is_(None)))
        if live >= MAX_ACCOUNTS_PER_CORP:
            raise ApiError(422, "invalid", f"a corp has at most {MAX_ACCOUNTS_PER_CORP} kf accounts",
                           {"name": "too many accounts"})
        account = KfAccount(corp_id=corp_id, app_pk=app_pk, **fields)
        s.add(account)
        s.flush()
        pending = _plan(s, corp_id, "kf_account_add", {"app_pk": app_pk, "account_pk": account.id},
                        f"kf_account_add:{account.id}")
        audit(s, "kf_account.create", f"kf_account:{account.id}", name=account.name)
        account_pk = account.id
    enqueue_outbox(pending)
    with _runtime().Session() as s:
        return jsonify(_account_json(s, s.get(KfAccount, account_pk))), 202


@bp.patch("/kf/accounts/<id:account_pk>")
@require(Role.admin)
@endpoint("Change a kf account (202 when kf/account/update runs)", body=AccountChange, response=AccountOut,
          status=202)
def update_account(account_pk: int, body: AccountChange) -> Any:
    fields = _changes(body)
    _nothing_given(fields, "kf account", "name, media_id, rule, max_sessions or welcome_text")
    pending: list[tuple[int, str]] = []
    with _runtime().WriteSession.begin() as s:
        account = _live_account(s, account_pk)
        wecom = {k: fields[k] for k in ("name", "media_id") if k in fields and fields[k] != getattr(account, k)}
        for key, value in fields.items():
            setattr(account, key, value)
        if wecom:
            pending = _plan(s, account.corp_id, "kf_account_update",
                            {"app_pk": account.app_pk, "account_pk": account.id, "changes": wecom},
                            f"kf_account_update:{account.id}:{utcnow().timestamp()}")
        audit(s, "kf_account.update", f"kf_account:{account.id}", **fields)
    enqueue_outbox(pending)
    with _runtime().Session() as s:
        return jsonify(_account_json(s, s.get(KfAccount, account_pk))), 202 if pending else 200


@bp.delete("/kf/accounts/<id:account_pk>")
@require(Role.admin)
@endpoint("Delete a kf account (202: kf/account/del)", response=DeletedId, status=202)
def delete_account(account_pk: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        account = _live_account(s, account_pk)
        account.deleted_at = utcnow()
        pending = []
        if account.open_kfid:
            pending = _plan(s, account.corp_id, "kf_account_del",
                            {"app_pk": account.app_pk, "open_kfid": account.open_kfid},
                            f"kf_account_del:{account.id}")
        audit(s, "kf_account.delete", f"kf_account:{account.id}")
    enqueue_outbox(pending)
    return jsonify({"deleted": account_pk}), 202


# -- servicers and scenes ------------------------------------------------------------------------------------
def _department_members(s: Session, corp_id: str, departments: list[int]) -> list[str]:
    """Active members of `departments` and the departments below them (models/directory.OrgChart); 422 for a
    department the corp does not have, or one with nobody active in it."""
    if not departments:
        return []
    chart = OrgChart.load(s, corp_id)
    known = {d for d in chart.leaders}
    unknown = sorted(set(departments) - known)
    if unknown:
        raise ApiError(422, "invalid", "the servicers have errors", {"departments": f"no departments {unknown}"})
    members = chart.members_of(chart.below(set(departments)))
    active = sorted(s.scalars(select(Staff.userid).where(Staff.corp_id == corp_id, Staff.userid.in_(members),
                                                         Staff.status == "active")))
    if not active:
        raise ApiError(422, "invalid", "the servicers have errors", {"departments": "nobody active in them"})
    return active


@bp.post("/kf/accounts/<id:account_pk>/servicers")
@require(Role.admin)
@endpoint("Add receptionists (202: kf/servicer/add)", body=ServicersIn, response=AccountOut, status=202)
def add_servicers(account_pk: int, body: ServicersIn) -> Any:
    userids = body.userids
    if len(set(userids)) != len(userids):
        raise ApiError(422, "invalid", "the servicers have errors", {"userids": "different userids"})
    if not userids and not body.departments:
        raise ApiError(422, "invalid", "the servicers have errors", {"userids": "give userids or departments"})
    with _runtime().WriteSession.begin() as s:
        account = _live_account(s, account_pk)
        userids = list(dict.fromkeys(userids + _department_members(s, account.corp_id, body.departments)))
        if len(userids) > MAX_SERVICERS_PER_CALL:
            raise ApiError(422, "invalid", "the servicers have errors",
                           {"departments": f"{len(userids)} people: at most {MAX_SERVICERS_PER_CALL} at a time"})
        known = set(s.scalars(select(KfServicer.userid).where(KfServicer.account_pk == account.id)))
        new = [u for u in userids if u not in known]
        for userid in new:
            s.add(KfServicer(account_pk=account.id, userid=userid))
        pending = []
        if new:
            pending = _plan(s, account.corp_id, "kf_servicers",
                            {"app_pk": account.app_pk, "account_pk": account.id, "userids": new, "add": True},
                            f"kf_servicers_add:{account.id}:{utcnow().timestamp()}")
        audit(s, "kf_servicer.add", f"kf_account:{account.id}", userids=new)
    enqueue_outbox(pending)
    with _runtime().Session() as s:
        return jsonify(_account_json(s, s.get(KfAccount, account_pk))), 202


@bp.delete("/kf/accounts/<id:account_pk>/servicers/<userid>")
@require(Role.admin)
@endpoint("Remove a receptionist, ending their sessions (202: kf/servicer/del)", response=ServicerRemoved,
          status=202)
def remove_servicer(account_pk: int, userid: str) -> Any:
    """004 §12.1.2: removing a receptionist ends the sessions they are receiving on this account."""
    with _runtime().WriteSession.begin() as s:
        account = _live_account(s, account_pk)
        row = s.scalar(select(KfServicer).where(KfServicer.account_pk == account.id, KfServicer.userid == userid))
        if row is None:
            raise ApiError(404, "not_found", f"{userid} is not a servicer of kf account {account_pk}")
        ctx = HandlerContext(session=s, corp_id=account.corp_id, app_pk=account.app_pk)
        row.status = ServicerStatus.removing.value
        settings = kf_settings(ctx)
        for session in s.scalars(select(KfSession).where(
                KfSession.account_pk == account.id, KfSession.servicer_userid == userid,
                KfSession.state == SessionState.human.value)).all():
            end_session(ctx, session, "servicer_removed", settings.end_message)
        ctx.outbox("kf_servicers", {"app_pk": account.app_pk, "account_pk": account.id, "userids": [userid],
                                    "add": False}, key=f"kf_servicers_del:{account.id}:{utcnow().timestamp()}")
        pending = [(o.id, o.queue) for o in ctx.pending_outbox]
        audit(s, "kf_servicer.remove", f"kf_account:{account.id}", userid=userid)
    enqueue_outbox(pending)
    return jsonify({"removed": userid}), 202


@bp.post("/kf/accounts/<id:account_pk>/scenes")
@require(Role.admin)
@endpoint("Add a scene with its own link (202: kf/add_contact_way)", body=SceneIn, response=AccountOut, status=202)
def add_scene(account_pk: int, body: SceneIn) -> Any:
    name, scene = body.name, body.scene
    with _runtime().WriteSession.begin() as s:
        account = _live_account(s, account_pk)
        if s.scalar(select(KfScene.id).where(KfScene.account_pk == account.id, KfScene.scene == scene)):
            raise ApiError(422, "invalid", "the scene has errors", {"scene": "the account has this scene"})
        row = KfScene(account_pk=account.id, name=name, scene=scene)
        s.add(row)
        s.flush()
        pending = _plan(s, account.corp_id, "kf_scene_add", {"app_pk": account.app_pk, "scene_pk": row.id},
                        f"kf_scene_add:{row.id}")
        audit(s, "kf_scene.create", f"kf_account:{account.id}", scene=scene)
    enqueue_outbox(pending)
    with _runtime().Session() as s:
        return jsonify(_account_json(s, s.get(KfAccount, account_pk))), 202


# -- conversation rules --------------------------------------------------------------------------------------
@bp.get("/kf/settings")
@require(Role.admin)
@endpoint("Conversation rules: closing words, silence, end message, bot threshold", query=CorpQuery,
          response=KfSettingsOut)
def get_settings(query: CorpQuery) -> Any:
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, query.corp_id)
        return jsonify(kf_settings(HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)).public())


@bp.put("/kf/settings")
@require(Role.admin)
@endpoint("Change the conversation rules", body=KfSettingsChange, response=KfSettingsOut)
def put_settings(body: KfSettingsChange) -> Any:
    fields = _changes(body)
    _nothing_given(fields, "settings",
                   "closing_words, handover_words, silence_minutes, end_message or bot_threshold")
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        settings = kf_settings(HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk))
        for key, value in fields.items():
            setattr(settings, key, value)
        audit(s, "kf_settings.update", f"kf_settings:{corp_id}", **fields)
        s.flush()
        return jsonify(settings.public())


# -- sessions ------------------------------------------------------------------------------------------------
@bp.get("/kf/sessions")
@require(Role.admin)
@endpoint("Service sessions with counts, first response and duration", query=SessionQuery,
          response=Page[SessionOut])
def list_sessions(query: SessionQuery) -> Any:
    """12.2.1: by start time, account, customer, session id; also by state and receptionist."""
    rows = _scoped(select(KfSession), KfSession.corp_id).order_by(KfSession.started_at.desc(), KfSession.id.desc())
    if query.state:
        rows = rows.where(KfSession.state == query.state)
    for arg, column in (("open_kfid", KfSession.open_kfid), ("external_userid", KfSession.external_userid),
                        ("servicer", KfSession.servicer_userid), ("session_id", KfSession.session_id)):
        if getattr(query, arg):
            rows = rows.where(column == getattr(query, arg))
    rows = time_filter(rows, KfSession.started_at, query)
    return page(rows, KfSession.public, query)


@bp.get("/kf/sessions/<session_id>")
@require(Role.admin)
@endpoint("One session with its messages", response=SessionDetail)
def get_session(session_id: str) -> Any:
    with _runtime().Session() as s:
        session = s.scalar(_scoped(select(KfSession), KfSession.corp_id).where(KfSession.session_id == session_id))
        if session is None:
            raise ApiError(404, "not_found", f"no kf session {session_id}")
        messages = s.scalars(select(Message).where(Message.session_pk == session.id)
                             .order_by(Message.send_time, Message.id)).all()
        return jsonify({**session.public(), "open": session.state in OPEN_STATES,
                        "messages": [m.public() for m in messages]})

