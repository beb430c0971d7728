"""Admin API for WeChat customer service (微信客服, 004 §12, §9.8, §6.1): accounts with their servicers and
scene links, the knowledge base the bot answers from, the conversation rules, and the sessions.

What WeCom must do (create an account, add servicers, make a link) is an outbox row answered 202; the job
fills in WeCom's answer (open_kfid, url) or the refusal on the row. Nothing here calls WeCom.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from handlers.kf import OPEN_STATES, end_session, kf_settings
from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox
from models import App, Corp, KfAccount, KfScene, KfServicer, KfSession, KnowledgeItem, Message, Role
from models.db import utcnow
from models.kf import MAX_ACCOUNTS_PER_CORP, AssignRule, ServicerStatus, SessionState
from models.knowledge import MAX_ANSWER_CHARS
from web import errors
from web.api import _enum_filter, _json_object, _live, _page, _runtime, _time_filter
from web.auth import audit, require
from web.errors import ApiError
from web.scope import corp_and_app

bp = Blueprint("api_kf", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_NAME_CHARS = 16  # kf/account/add: name at most 16 characters
SCENE_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,32}$")  # kf/add_contact_way: ≤32 bytes of [0-9a-zA-Z_-]
MAX_SERVICERS_PER_CALL = 100
MAX_QUESTION_CHARS, MAX_SIMILAR = 128, 20
MAX_WORDS, MAX_WORD_CHARS = 50, 32


def _invalid(problems: dict[str, str], what: str) -> None:
    if problems:
        raise ApiError(422, "invalid", f"the {what} has errors", problems)


def _text(body: dict[str, Any], key: str, limit: int, problems: dict[str, str], required: bool) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value.strip()) > limit:
        problems[key] = f"a non-empty string of at most {limit} characters" if required \
            else f"a string of at most {limit} characters"
        return None
    return value.strip()


def _whole(body: dict[str, Any], key: str, low: int, high: int, problems: dict[str, str]) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems[key] = f"a whole number from {low} to {high}"
        return None
    return value


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


def _account_fields(body: dict[str, Any], creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    problems: dict[str, str] = {}
    fields: dict[str, Any] = {
        "name": _text(body, "name", MAX_NAME_CHARS, problems, creating or "name" in body),
        "media_id": _text(body, "media_id", 128, problems, creating or "media_id" in body),
        "welcome_text": _text(body, "welcome_text", 1000, problems, False),
        "max_sessions": _whole(body, "max_sessions", 1, 1000, problems),
    }
    rule = body.get("rule")
    if rule is not None and rule not in AssignRule.__members__:
        problems["rule"] = f"one of {', '.join(AssignRule.__members__)}"
    fields["rule"] = rule
    return {k: v for k, v in fields.items() if v is not None}, problems


def _plan(s: Session, corp_id: str, job: str, args: dict[str, Any], key: str) -> list[tuple[int, str]]:
    ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=args["app_pk"])
    row = ctx.outbox(job, args, key=key)
    return [(row.id, row.queue)]


# -- accounts ------------------------------------------------------------------------------------------------
@bp.get("/kf/accounts")
@require(Role.admin)
def list_accounts() -> Any:
    query = _scoped(select(KfAccount).where(KfAccount.deleted_at.is_(None)).order_by(KfAccount.id),
                    KfAccount.corp_id)
    with _runtime().Session() as s:
        return jsonify({"items": [_account_json(s, a) for a in s.scalars(query)]})


@bp.post("/kf/accounts")
@require(Role.admin)
def create_account() -> Any:
    body = _json_object()
    fields, problems = _account_fields(body, creating=True)
    _invalid(problems, "kf account")
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = _kf_app(s, body.get("corp_id"))
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
def update_account(account_pk: int) -> Any:
    body = _json_object()
    fields, problems = _account_fields(body, creating=False)
    if not fields and not problems:
        problems["body"] = "give name, media_id, rule, max_sessions or welcome_text"
    _invalid(problems, "kf account")
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
@bp.post("/kf/accounts/<id:account_pk>/servicers")
@require(Role.admin)
def add_servicers(account_pk: int) -> Any:
    body = _json_object()
    userids = body.get("userids")
    if not isinstance(userids, list) or not 1 <= len(userids) <= MAX_SERVICERS_PER_CALL \
            or not all(isinstance(u, str) and u.strip() and len(u) <= 64 for u in userids) \
            or len(set(userids)) != len(userids):
        raise ApiError(422, "invalid", "the servicers have errors",
                       {"userids": f"1 to {MAX_SERVICERS_PER_CALL} different userids"})
    with _runtime().WriteSession.begin() as s:
        account = _live_account(s, account_pk)
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
def add_scene(account_pk: int) -> Any:
    body = _json_object()
    problems: dict[str, str] = {}
    name = _text(body, "name", 64, problems, True)
    scene = body.get("scene")
    if not isinstance(scene, str) or not SCENE_PATTERN.match(scene):
        problems["scene"] = "1 to 32 characters of 0-9, a-z, A-Z, _ and -"
    _invalid(problems, "scene")
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


# -- knowledge base ------------------------------------------------------------------------------------------
def _knowledge_fields(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    problems: dict[str, str] = {}
    fields: dict[str, Any] = {
        "question": _text(body, "question", MAX_QUESTION_CHARS, problems, creating or "question" in body),
        "answer": _text(body, "answer", MAX_ANSWER_CHARS, problems, creating or "answer" in body),
        "category": _text(body, "category", 64, problems, False),
    }
    similar = body.get("similar")
    if similar is not None:
        if not isinstance(similar, list) or len(similar) > MAX_SIMILAR or not all(
                isinstance(q, str) and q.strip() and len(q) <= MAX_QUESTION_CHARS for q in similar):
            problems["similar"] = f"at most {MAX_SIMILAR} questions, each 1-{MAX_QUESTION_CHARS} characters"
        else:
            fields["similar"] = [q.strip() for q in similar]
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        problems["enabled"] = "true or false"
    fields["enabled"] = enabled
    fields = {k: v for k, v in fields.items() if v is not None}
    if not creating and not fields and not problems:
        problems["body"] = "give question, similar, answer, category or enabled"
    _invalid(problems, "knowledge item")
    return fields


def _live_item(s: Session, item_pk: int) -> KnowledgeItem:
    return _live(s, KnowledgeItem, item_pk, "knowledge item")


@bp.get("/kf/knowledge")
@require(Role.member)
def list_knowledge() -> Any:
    query = _scoped(select(KnowledgeItem).where(KnowledgeItem.deleted_at.is_(None)), KnowledgeItem.corp_id)
    keyword = request.args.get("keyword", "").strip()
    if keyword:
        pattern = "%" + keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(KnowledgeItem.question.like(pattern, escape="\\"))
    return _page(query.order_by(KnowledgeItem.id), KnowledgeItem.public)


@bp.post("/kf/knowledge")
@require(Role.admin)
def create_knowledge() -> Any:
    body = _json_object()
    fields = _knowledge_fields(body, creating=True)
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.get("corp_id"))
        item = KnowledgeItem(corp_id=corp_id, **fields)
        s.add(item)
        s.flush()
        audit(s, "knowledge.create", f"knowledge:{item.id}", question=item.question)
        out = item.public()
    return jsonify(out), 201


@bp.patch("/kf/knowledge/<id:item_pk>")
@require(Role.admin)
def update_knowledge(item_pk: int) -> Any:
    fields = _knowledge_fields(_json_object(), creating=False)
    with _runtime().WriteSession.begin() as s:
        item = _live_item(s, item_pk)
        for key, value in fields.items():
            setattr(item, key, value)
        audit(s, "knowledge.update", f"knowledge:{item.id}", **fields)
        s.flush()
        out = item.public()
    return jsonify(out)


@bp.delete("/kf/knowledge/<id:item_pk>")
@require(Role.admin)
def delete_knowledge(item_pk: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        item = _live_item(s, item_pk)
        item.deleted_at = utcnow()
        audit(s, "knowledge.delete", f"knowledge:{item.id}")
    return jsonify({"deleted": item_pk})


# -- conversation rules --------------------------------------------------------------------------------------
def _words(body: dict[str, Any], key: str, problems: dict[str, str]) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_WORDS or not all(
            isinstance(w, str) and w.strip() and len(w) <= MAX_WORD_CHARS for w in value):
        problems[key] = f"at most {MAX_WORDS} non-empty words of at most {MAX_WORD_CHARS} characters"
        return None
    return [w.strip() for w in value]


@bp.get("/kf/settings")
@require(Role.admin)
def get_settings() -> Any:
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, request.args.get("corp_id"))
        return jsonify(kf_settings(HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)).public())


@bp.put("/kf/settings")
@require(Role.admin)
def put_settings() -> Any:
    body = _json_object()
    problems: dict[str, str] = {}
    fields: dict[str, Any] = {
        "closing_words": _words(body, "closing_words", problems),
        "handover_words": _words(body, "handover_words", problems),
        "silence_minutes": _whole(body, "silence_minutes", 1, 7 * 24 * 60, problems),
        "end_message": _text(body, "end_message", 1000, problems, False),
    }
    threshold = body.get("bot_threshold")
    if threshold is not None:
        if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 < threshold <= 1:
            problems["bot_threshold"] = "a number above 0 and at most 1"
        else:
            fields["bot_threshold"] = float(threshold)
    fields = {k: v for k, v in fields.items() if v is not None}
    if not fields and not problems:
        problems["body"] = "give closing_words, handover_words, silence_minutes, end_message or bot_threshold"
    _invalid(problems, "settings")
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.get("corp_id"))
        settings = kf_settings(HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk))
        for key, value in fields.items():
            setattr(settings, key, value)
        audit(s, "kf_settings.update", f"kf_settings:{corp_id}", **fields)
        s.flush()
        return jsonify(settings.public())


# -- sessions ------------------------------------------------------------------------------------------------
@bp.get("/kf/sessions")
@require(Role.admin)
def list_sessions() -> Any:
    """12.2.1: by start time, account, customer, session id; also by state and receptionist."""
    query = _scoped(select(KfSession), KfSession.corp_id).order_by(KfSession.started_at.desc(), KfSession.id.desc())
    query = _enum_filter(query, "state", KfSession.state, SessionState)
    for arg, column in (("open_kfid", KfSession.open_kfid), ("external_userid", KfSession.external_userid),
                        ("servicer", KfSession.servicer_userid), ("session_id", KfSession.session_id)):
        if request.args.get(arg):
            query = query.where(column == request.args[arg])
    query = _time_filter(query, KfSession.started_at)
    return _page(query, KfSession.public)


@bp.get("/kf/sessions/<session_id>")
@require(Role.admin)
def get_session(session_id: str) -> Any:
    with _runtime().Session() as s:
        session = s.scalar(_scoped(select(KfSession), KfSession.corp_id).where(KfSession.session_id == session_id))
        if session is None:
            raise ApiError(404, "not_found", f"no kf session {session_id}")
        messages = s.scalars(select(Message).where(Message.session_pk == session.id)
                             .order_by(Message.send_time, Message.id)).all()
        return jsonify({**session.public(), "open": session.state in OPEN_STATES,
                        "messages": [m.public() for m in messages]})

