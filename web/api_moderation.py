"""Admin API for conversation oversight (manual 004 §7.2-7.4, §9.3, §9.5, §9.13, §10.2): sensitive-word
rules and their alerts (with review), who is alerted and the reply limit, the working-hours calendar,
reply timeouts, message templates and staff broadcasts.

A broadcast is an outbox row answered 202; `GET /broadcasts/<id>` shows what WeCom answered. Every
change touches its own rows only, except a rule change, which also renews the corp's `rules_stamp` so
every process rebuilds its word matcher.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.moderation import moderation_settings, plan_staff_message
from models.corp import messaging_app
from models import Message, Role
from models.db import get_or_create, utcnow
from models.moderation import (Broadcast, BroadcastStatus, MessageTemplate, ReplyTimeout, ReviewStatus,
                               SensitiveAlert, SensitiveCategory, SensitiveRule, WorkCalendar)
from rules import templates, working_hours
from rules.sensitive import SEPARATOR, split_words
from web import errors
from web.api import _enum_filter, _int_arg, _json_object, _like, _page, _page_rows, _runtime, _time_filter
from web.api_kf import _invalid, _scoped, _text
from web.auth import audit, require
from web.errors import ApiError
from web.scope import corp_and_app

bp = Blueprint("api_moderation", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_RULE_NAME = 10  # §7.3.2: 规则名称 最多 10 个字
MAX_WORDS_CHARS = 500  # §7.3.2: 敏感词 最多 500 个字
MAX_WORD_CHARS = 64
MAX_ALERT_USERIDS = 100
MAX_TIMEOUT_MINUTES = 24 * 60
MAX_BROADCAST_USERS, MAX_BROADCAST_PARTIES = 1000, 100  # message/send: touser ≤1000, toparty ≤100


def _mine(row: Any, what: str, row_id: int) -> Any:
    """The row, if it exists, is live and belongs to the token's corp; else 404."""
    if row is None or getattr(row, "deleted_at", None) is not None or g.principal.corp_id not in (None, row.corp_id):
        raise ApiError(404, "not_found", f"no {what} {row_id}")
    return row


def _flag(body: dict[str, Any], key: str, problems: dict[str, str]) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        problems[key] = "true or false"
        return None
    return value


def _bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in ("true", "false"):
        raise ApiError(400, "bad_request", f"{name} must be true or false")
    return raw == "true"


# -- sensitive-word rules -------------------------------------------------------------------------------------
def _rules_changed(s: Session, corp_id: str) -> None:
    """Every process rebuilds the corp's matcher before its next scan."""
    moderation_settings(s, corp_id).rules_stamp = uuid.uuid4().hex


def _rule_fields(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    problems: dict[str, str] = {}
    fields: dict[str, Any] = {"name": _text(body, "name", MAX_RULE_NAME, problems, creating or "name" in body)}
    raw = body.get("words")
    if raw is not None or creating:
        if isinstance(raw, str):
            words = split_words(raw)
        elif isinstance(raw, list) and all(isinstance(w, str) for w in raw):
            words = split_words(SEPARATOR.join(raw))
        else:
            words = []
        if not words or len(SEPARATOR.join(words)) > MAX_WORDS_CHARS or max(map(len, words)) > MAX_WORD_CHARS:
            problems["words"] = (f"words separated by \"{SEPARATOR}\" (or a list), {MAX_WORDS_CHARS} characters in "
                                 f"all, each at most {MAX_WORD_CHARS}")
        fields["words"] = words
    category = body.get("category")
    if category is not None and category not in SensitiveCategory.__members__:
        problems["category"] = f"one of {', '.join(SensitiveCategory.__members__)}"
    fields["category"] = category
    fields["enabled"] = _flag(body, "enabled", problems)
    fields = {k: v for k, v in fields.items() if v is not None}
    if not creating and not fields and not problems:
        problems["body"] = "give name, words, category or enabled"
    _invalid(problems, "sensitive rule")
    return fields


@bp.get("/sensitive-rules")
@require(Role.admin)
def list_rules() -> Any:
    """§7.3.1: newest first; by name and state."""
    query = _scoped(select(SensitiveRule).where(SensitiveRule.deleted_at.is_(None)), SensitiveRule.corp_id)
    keyword = request.args.get("keyword", "").strip()
    if keyword:
        query = query.where(SensitiveRule.name.like(_like(keyword), escape="\\"))
    enabled = _bool_arg("enabled")
    if enabled is not None:
        query = query.where(SensitiveRule.enabled.is_(enabled))
    return _page(query.order_by(SensitiveRule.created_at.desc(), SensitiveRule.id.desc()), SensitiveRule.public)


@bp.post("/sensitive-rules")
@require(Role.admin)
def create_rule() -> Any:
    body = _json_object()
    fields = _rule_fields(body, creating=True)
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.get("corp_id"))
        rule = SensitiveRule(corp_id=corp_id, created_by=g.principal.name, **fields)
        s.add(rule)
        _rules_changed(s, corp_id)
        s.flush()
        audit(s, "sensitive_rule.create", f"sensitive_rule:{rule.id}", **fields)
        out = rule.public()
    return jsonify(out), 201


@bp.patch("/sensitive-rules/<id:rule_pk>")
@require(Role.admin)
def update_rule(rule_pk: int) -> Any:
    fields = _rule_fields(_json_object(), creating=False)
    with _runtime().WriteSession.begin() as s:
        rule = _mine(s.get(SensitiveRule, rule_pk), "sensitive rule", rule_pk)
        for key, value in fields.items():
            setattr(rule, key, value)
        _rules_changed(s, rule.corp_id)
        audit(s, "sensitive_rule.update", f"sensitive_rule:{rule.id}", **fields)
        s.flush()
        out = rule.public()
    return jsonify(out)


@bp.delete("/sensitive-rules/<id:rule_pk>")
@require(Role.admin)
def delete_rule(rule_pk: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        rule = _mine(s.get(SensitiveRule, rule_pk), "sensitive rule", rule_pk)
        rule.deleted_at = utcnow()
        _rules_changed(s, rule.corp_id)
        audit(s, "sensitive_rule.delete", f"sensitive_rule:{rule.id}")
    return jsonify({"deleted": rule_pk})


# -- alerts ---------------------------------------------------------------------------------------------------
def _alerts_json(s: Session, alerts: list[SensitiveAlert]) -> list[dict[str, Any]]:
    messages = {m.id: m for m in s.scalars(select(Message).where(Message.id.in_({a.message_pk for a in alerts})))}
    rules = dict(s.execute(select(SensitiveRule.id, SensitiveRule.name).where(
        SensitiveRule.id.in_({a.rule_pk for a in alerts}))).all())
    return [{"id": a.id, "corp_id": a.corp_id, "rule_id": a.rule_pk, "rule": rules.get(a.rule_pk), "word": a.word,
             "category": a.category, "userid": a.userid, "external_userid": a.external_userid,
             "notified": list(a.notified), "at": a.at.isoformat(), "review_status": a.review_status,
             "review_note": a.review_note, "reviewed_by": a.reviewed_by,
             "reviewed_at": a.reviewed_at.isoformat() if a.reviewed_at else None,
             "message": messages[a.message_pk].public()} for a in alerts]


@bp.get("/sensitive-alerts")
@require(Role.admin)
def list_alerts() -> Any:
    """§7.4.1: by review state, time, rule or category, sender (staff) and customer; newest first."""
    query = _scoped(select(SensitiveAlert), SensitiveAlert.corp_id)
    query = _enum_filter(query, "status", SensitiveAlert.review_status, ReviewStatus)
    query = _enum_filter(query, "category", SensitiveAlert.category, SensitiveCategory)
    if request.args.get("rule_id"):
        query = query.where(SensitiveAlert.rule_pk == _int_arg("rule_id", 0, 1, 2**31 - 1))
    for arg, column in (("staff", SensitiveAlert.userid), ("customer", SensitiveAlert.external_userid)):
        if request.args.get(arg):
            query = query.where(column == request.args[arg])
    query = _time_filter(query, SensitiveAlert.at)
    return _page_rows(query.order_by(SensitiveAlert.at.desc(), SensitiveAlert.id.desc()), _alerts_json)


@bp.patch("/sensitive-alerts/<id:alert_pk>")
@require(Role.admin)
def review_alert(alert_pk: int) -> Any:
    """§7.4.2: review (or review again) with a note."""
    body = _json_object()
    problems: dict[str, str] = {}
    status = body.get("status")
    if status not in ReviewStatus.__members__:
        problems["status"] = f"one of {', '.join(ReviewStatus.__members__)}"
    note = _text(body, "note", 500, problems, False)
    _invalid(problems, "review")
    with _runtime().WriteSession.begin() as s:
        alert = _mine(s.get(SensitiveAlert, alert_pk), "sensitive alert", alert_pk)
        alert.review_status = status
        if note is not None:
            alert.review_note = note
        alert.reviewed_by, alert.reviewed_at = g.principal.name, utcnow()
        audit(s, "sensitive_alert.review", f"sensitive_alert:{alert.id}", status=status, note=note)
        s.flush()
        out = _alerts_json(s, [alert])[0]
    return jsonify(out)


# -- settings and working hours -------------------------------------------------------------------------------
@bp.get("/moderation/settings")
@require(Role.admin)
def get_moderation_settings() -> Any:
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, request.args.get("corp_id"))
        return jsonify(moderation_settings(s, corp_id).public())


@bp.put("/moderation/settings")
@require(Role.admin)
def put_moderation_settings() -> Any:
    body = _json_object()
    problems: dict[str, str] = {}
    fields: dict[str, Any] = {"alert_notify_sender": _flag(body, "alert_notify_sender", problems),
                              "reply_timeout_notify": _flag(body, "reply_timeout_notify", problems)}
    userids = body.get("alert_userids")
    if userids is not None:
        if not isinstance(userids, list) or len(userids) > MAX_ALERT_USERIDS or not all(
                isinstance(u, str) and u.strip() and len(u) <= 64 for u in userids):
            problems["alert_userids"] = f"a list of at most {MAX_ALERT_USERIDS} userids"
        else:
            fields["alert_userids"] = list(dict.fromkeys(u.strip() for u in userids))
    minutes = body.get("reply_timeout_minutes")
    if minutes is not None:
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= MAX_TIMEOUT_MINUTES:
            problems["reply_timeout_minutes"] = f"a whole number from 0 (off) to {MAX_TIMEOUT_MINUTES}"
        else:
            fields["reply_timeout_minutes"] = minutes
    unknown = sorted(set(body) - {"corp_id", "alert_userids", "alert_notify_sender", "reply_timeout_minutes",
                                  "reply_timeout_notify"})
    if unknown:
        problems[unknown[0]] = "unknown setting"
    fields = {k: v for k, v in fields.items() if v is not None}
    if not fields and not problems:
        problems["body"] = "give alert_userids, alert_notify_sender, reply_timeout_minutes or reply_timeout_notify"
    _invalid(problems, "settings")
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.get("corp_id"))
        row = moderation_settings(s, corp_id)
        for key, value in fields.items():
            setattr(row, key, value)
        audit(s, "moderation_settings.update", f"corp:{corp_id}", **fields)
        return jsonify(row.public())


@bp.get("/working-hours")
@require(Role.admin)
def get_working_hours() -> Any:
    with _runtime().Session() as s:
        corp_id, _ = corp_and_app(s, request.args.get("corp_id"))
        row = s.scalar(select(WorkCalendar).where(WorkCalendar.corp_id == corp_id))
        calendar = working_hours.parse({"week": row.week, "holidays": row.holidays})[0] if row else None
        return jsonify({"corp_id": corp_id, "default": row is None,
                        **(calendar or working_hours.DEFAULT).public()})


@bp.put("/working-hours")
@require(Role.admin)
def put_working_hours() -> Any:
    """§10.2: the week's ranges (several a day) and the holidays."""
    body = _json_object()
    calendar, problems = working_hours.parse({k: v for k, v in body.items() if k != "corp_id"})
    _invalid(problems, "working hours")
    assert calendar is not None
    stored = calendar.public()
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.get("corp_id"))
        row, _ = get_or_create(s, WorkCalendar, {"corp_id": corp_id})
        row.week, row.holidays = stored["week"], stored["holidays"]
        audit(s, "working_hours.update", f"corp:{corp_id}", **stored)
    return jsonify({"corp_id": corp_id, "default": False, **stored})


# -- reply timeouts -------------------------------------------------------------------------------------------
@bp.get("/reply-timeouts")
@require(Role.admin)
def list_timeouts() -> Any:
    """§7.2: by staff member, customer, kf account and the customer message's time; newest first."""
    query = _scoped(select(ReplyTimeout), ReplyTimeout.corp_id)
    for arg, column in (("staff", ReplyTimeout.userid), ("customer", ReplyTimeout.external_userid),
                        ("open_kfid", ReplyTimeout.open_kfid)):
        if request.args.get(arg):
            query = query.where(column == request.args[arg])
    query = _time_filter(query, ReplyTimeout.message_at)
    return _page(query.order_by(ReplyTimeout.message_at.desc(), ReplyTimeout.id.desc()), ReplyTimeout.public)


# -- message templates ----------------------------------------------------------------------------------------
_TEMPLATE_KEYS = ("name", "category", "msgtype", "body", "variables")


def _checked_template(body: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The template's fields after applying `body` to `base`, checked as a whole."""
    problems: dict[str, str] = {}
    fields = {k: body[k] for k in _TEMPLATE_KEYS if k in body}
    if "name" in body or not base:
        fields["name"] = _text(body, "name", 64, problems, True)
    merged = {**base, **fields}
    category = merged.get("category")
    fixed = templates.CATEGORY_VARIABLES.get(category) if isinstance(category, str) else None
    if fixed is not None and "variables" not in body:
        merged["variables"] = list(fixed)  # a notification category's own, whatever the template had before
    if not problems:
        problems = templates.template_errors(category, merged.get("msgtype"), merged.get("body"),
                                             merged.get("variables"))
    enabled = _flag(body, "enabled", problems)
    unknown = sorted(set(body) - {*_TEMPLATE_KEYS, "enabled", "corp_id"})
    if unknown:
        problems[unknown[0]] = "unknown field"
    _invalid(problems, "message template")
    merged["variables"] = list(fixed) if fixed is not None else merged.get("variables") or []
    if enabled is not None:
        merged["enabled"] = enabled
    return merged


def _count_in_category(s: Session, corp_id: str, category: str, besides: int | None = None) -> int:
    query = select(func.count()).select_from(MessageTemplate).where(
        MessageTemplate.corp_id == corp_id, MessageTemplate.category == category, MessageTemplate.deleted_at.is_(None))
    if besides is not None:
        query = query.where(MessageTemplate.id != besides)
    return s.scalar(query) or 0


def _room_in_category(s: Session, corp_id: str, category: str, besides: int | None = None) -> None:
    """§9.13.1: at most three templates per notification category (broadcast templates are not one)."""
    if category != templates.BROADCAST and \
            _count_in_category(s, corp_id, category, besides) >= templates.MAX_PER_NOTIFICATION_CATEGORY:
        raise ApiError(422, "invalid", "the message template has errors",
                       {"category": f"at most {templates.MAX_PER_NOTIFICATION_CATEGORY} templates per category"})


@bp.get("/message-templates")
@require(Role.admin)
def list_templates() -> Any:
    query = _scoped(select(MessageTemplate).where(MessageTemplate.deleted_at.is_(None)), MessageTemplate.corp_id)
    category = request.args.get("category")
    if category:
        if category not in templates.CATEGORY_VARIABLES:
            raise ApiError(400, "bad_request", f"category must be one of {', '.join(templates.CATEGORY_VARIABLES)}")
        query = query.where(MessageTemplate.category == category)
    enabled = _bool_arg("enabled")
    if enabled is not None:
        query = query.where(MessageTemplate.enabled.is_(enabled))
    keyword = request.args.get("keyword", "").strip()
    if keyword:
        query = query.where(MessageTemplate.name.like(_like(keyword), escape="\\"))
    return _page(query.order_by(MessageTemplate.id), MessageTemplate.public)


@bp.post("/message-templates")
@require(Role.admin)
def create_template() -> Any:
    body = _json_object()
    fields = _checked_template(body, {})
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.get("corp_id"))
        _room_in_category(s, corp_id, fields["category"])
        row = MessageTemplate(corp_id=corp_id, created_by=g.principal.name, **fields)
        s.add(row)
        s.flush()
        audit(s, "message_template.create", f"message_template:{row.id}", name=row.name, category=row.category)
        out = row.public()
    return jsonify(out), 201


@bp.patch("/message-templates/<id:template_pk>")
@require(Role.admin)
def update_template(template_pk: int) -> Any:
    """§9.13.1: an enabled template is read-only, apart from disabling it."""
    body = _json_object()
    with _runtime().WriteSession.begin() as s:
        row = _mine(s.get(MessageTemplate, template_pk), "message template", template_pk)
        if row.enabled and set(body) - {"enabled", "corp_id"}:
            raise ApiError(409, "conflict", "an enabled template can only be disabled; disable it to edit it")
        fields = _checked_template(body, {k: getattr(row, k) for k in (*_TEMPLATE_KEYS, "enabled")})
        if fields["category"] != row.category:
            _room_in_category(s, row.corp_id, fields["category"], besides=row.id)
        for key, value in fields.items():
            setattr(row, key, value)
        audit(s, "message_template.update", f"message_template:{row.id}",
              **{k: v for k, v in body.items() if k != "body"})
        s.flush()
        out = row.public()
    return jsonify(out)


@bp.delete("/message-templates/<id:template_pk>")
@require(Role.admin)
def delete_template(template_pk: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        row = _mine(s.get(MessageTemplate, template_pk), "message template", template_pk)
        if row.enabled:
            raise ApiError(409, "conflict", "an enabled template cannot be deleted; disable it first")
        row.deleted_at = utcnow()
        audit(s, "message_template.delete", f"message_template:{row.id}")
    return jsonify({"deleted": template_pk})


# -- staff broadcasts -----------------------------------------------------------------------------------------
def _recipients(body: dict[str, Any], problems: dict[str, str]) -> tuple[list[str], list[int]]:
    userids, parties = body.get("userids", []), body.get("departments", [])
    if not isinstance(userids, list) or len(userids) > MAX_BROADCAST_USERS or not all(
            isinstance(u, str) and u.strip() and len(u) <= 64 and "|" not in u for u in userids):
        problems["userids"] = f"a list of at most {MAX_BROADCAST_USERS} userids"
        userids = []
    if not isinstance(parties, list) or len(parties) > MAX_BROADCAST_PARTIES or not all(
            isinstance(p, int) and not isinstance(p, bool) and p > 0 for p in parties):
        problems["departments"] = f"a list of at most {MAX_BROADCAST_PARTIES} department ids"
        parties = []
    if not problems and not userids and not parties:
        problems["userids"] = "name at least one staff member or department"
    return list(dict.fromkeys(u.strip() for u in userids)), list(dict.fromkeys(parties))


def _content(s: Session, corp_id: str, body: dict[str, Any]) -> tuple[int | None, dict[str, str], str, dict[str, Any]]:
    """(template pk, values, msgtype, rendered body): from an enabled broadcast template and its values,
    or given as msgtype and body without variables."""
    if "template_id" in body:
        template_pk = body["template_id"]
        template = s.get(MessageTemplate, template_pk) if isinstance(template_pk, int) else None
        if template is None or template.deleted_at is not None or template.corp_id != corp_id \
                or template.category != templates.BROADCAST or not template.enabled:
            raise ApiError(422, "invalid", "the broadcast has errors",
                           {"template_id": "an enabled broadcast template of this corp"})
        values = body.get("values", {})
        _invalid(templates.value_errors(list(template.variables), values), "broadcast")
        msgtype, content = template.msgtype, templates.render(template.msgtype, template.body, values)
    else:
        template_pk, values, msgtype, content = None, {}, body.get("msgtype"), body.get("body")
        _invalid(templates.template_errors(templates.BROADCAST, msgtype, content, []), "broadcast")
    _invalid(templates.body_errors(msgtype, content, rendered=True), "broadcast")
    return template_pk, values, msgtype, content


@bp.get("/broadcasts")
@require(Role.admin)
def list_broadcasts() -> Any:
    """§9.5: newest first; by state and creator."""
    query = _scoped(select(Broadcast), Broadcast.corp_id)
    query = _enum_filter(query, "status", Broadcast.status, BroadcastStatus)
    if request.args.get("created_by"):
        query = query.where(Broadcast.created_by == request.args["created_by"])
    return _page(query.order_by(Broadcast.created_at.desc(), Broadcast.id.desc()), Broadcast.public)


@bp.post("/broadcasts")
@require(Role.admin)
def create_broadcast() -> Any:
    """Send an app message to staff now (202); WeCom's answer lands on the broadcast."""
    body = _json_object()
    problems: dict[str, str] = {}
    name = _text(body, "name", 64, problems, True)
    userids, parties = _recipients(body, problems)
    _invalid(problems, "broadcast")
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.get("corp_id"))
        template_pk, values, msgtype, content = _content(s, corp_id, body)
        app = messaging_app(s, corp_id)
        if app is None:
            raise ApiError(409, "conflict", f"corp {corp_id} has no app with an agentid to send app messages")
        row = Broadcast(corp_id=corp_id, app_pk=app[0], name=name, template_pk=template_pk, template_values=values,
                        userids=userids, departments=parties, msgtype=msgtype, body=content,
                        created_by=g.principal.name)
        s.add(row)
        s.flush()
        plan_staff_message(s, corp_id, f"broadcast:{row.id}", msgtype, content, userids, parties,
                           broadcast_pk=row.id, app=app)
        audit(s, "broadcast.create", f"broadcast:{row.id}", name=name, userids=userids, departments=parties)
        broadcast_pk = row.id
    with _runtime().Session() as s:
        return jsonify(s.get(Broadcast, broadcast_pk).public()), 202


@bp.get("/broadcasts/<id:broadcast_pk>")
@require(Role.admin)
def get_broadcast(broadcast_pk: int) -> Any:
    with _runtime().Session() as s:
        return jsonify(_mine(s.get(Broadcast, broadcast_pk), "broadcast", broadcast_pk).public())
