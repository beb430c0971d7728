"""Admin API for conversation oversight (manual 004 §7.2-7.4, §9.3, §9.5, §9.13, §10.2): sensitive-word
rules and their alerts (with review), who is alerted and the reply limit, the working-hours calendar,
reply timeouts and message templates. Staff broadcasts are web/api_broadcasts.py.

Every change touches its own rows only, except a rule change, which also renews the corp's `rules_stamp` so
every process rebuilds its word matcher.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from handlers.moderation import moderation_settings
from models import Message, Role
from models.db import get_or_create, utcnow
from models.moderation import MessageTemplate, ReplyTimeout, SensitiveAlert, SensitiveRule, WorkCalendar
from rules import templates, working_hours
from rules.sensitive import SEPARATOR, split_words
from web import errors
from web.api import _like, _runtime, page, page_rows, time_filter
from web.api_kf import _scoped
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import CorpQuery, DeletedId, Page
from web.schemas.moderation import (MAX_WORD_CHARS, MAX_WORDS_CHARS, AlertOut, AlertQuery, AlertReview,
                                    ModerationSettingsChange, ModerationSettingsOut, ReplyTimeoutOut, RuleChange,
                                    RuleIn, RuleOut, RuleQuery, TemplateChange, TemplateIn, TemplateOut, TemplateQuery,
                                    TimeoutQuery, WorkingHoursIn, WorkingHoursOut)
from web.scope import corp_and_app

bp = Blueprint("api_moderation", __name__, url_prefix="/api/v1")
errors.register(bp)

def _mine(row: Any, what: str, row_id: int) -> Any:
    """The row, if it exists, is live and belongs to the token's corp; else 404."""
    if row is None or getattr(row, "deleted_at", None) is not None or g.principal.corp_id not in (None, row.corp_id):
        raise ApiError(404, "not_found", f"no {what} {row_id}")
    return row


def _invalid(problems: dict[str, str], what: str) -> None:
    """422 for what the rules found wrong with a body of the right types."""
    if problems:
        raise ApiError(422, "invalid", f"the {what} has errors", problems)


def _given(body: Any) -> dict[str, Any]:
    """The fields a body gives (null or absent: unchanged), as stored: enums as their values."""
    return body.model_dump(mode="json", exclude_none=True, exclude={"corp_id"})


def _nothing_given(fields: dict[str, Any], what: str, names: str) -> None:
    if not fields:
        raise ApiError(422, "invalid", f"the {what} has errors", {"body": f"give {names}"})


def _flag(value: str | None) -> bool | None:
    return None if value is None else value == "true"


# -- sensitive-word rules -------------------------------------------------------------------------------------
def _rules_changed(s: Session, corp_id: str) -> None:
    """Every process rebuilds the corp's matcher before its next scan."""
    moderation_settings(s, corp_id).rules_stamp = uuid.uuid4().hex


def _rule_fields(body: RuleChange) -> dict[str, Any]:
    fields = _given(body)
    if body.words is not None:
        words = split_words(SEPARATOR.join(body.words))
        if not words or len(SEPARATOR.join(words)) > MAX_WORDS_CHARS or max(map(len, words)) > MAX_WORD_CHARS:
            _invalid({"words": f"words separated by \"{SEPARATOR}\" (or a list), {MAX_WORDS_CHARS} characters in "
                               f"all, each at most {MAX_WORD_CHARS}"}, "sensitive rule")
        fields["words"] = words
    return fields


@bp.get("/sensitive-rules")
@require(Role.admin)
@endpoint("Sensitive-word rules, newest first", query=RuleQuery, response=Page[RuleOut])
def list_rules(query: RuleQuery) -> Any:
    """§7.3.1: newest first; by name and state."""
    rows = _scoped(select(SensitiveRule).where(SensitiveRule.deleted_at.is_(None)), SensitiveRule.corp_id)
    keyword = (query.keyword or "").strip()
    if keyword:
        rows = rows.where(SensitiveRule.name.like(_like(keyword), escape="\\"))
    enabled = _flag(query.enabled)
    if enabled is not None:
        rows = rows.where(SensitiveRule.enabled.is_(enabled))
    return page(rows.order_by(SensitiveRule.created_at.desc(), SensitiveRule.id.desc()), SensitiveRule.public, query)


@bp.post("/sensitive-rules")
@require(Role.admin)
@endpoint("Add a sensitive-word rule (off unless enabled is given)", body=RuleIn, response=RuleOut, status=201)
def create_rule(body: RuleIn) -> Any:
    fields = _rule_fields(body)
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        rule = SensitiveRule(corp_id=corp_id, created_by=g.principal.name, **fields)
        s.add(rule)
        _rules_changed(s, corp_id)
        s.flush()
        audit(s, "sensitive_rule.create", f"sensitive_rule:{rule.id}", **fields)
        out = rule.public()
    return jsonify(out), 201


@bp.patch("/sensitive-rules/<id:rule_pk>")
@require(Role.admin)
@endpoint("Change, enable or disable a rule", body=RuleChange, response=RuleOut)
def update_rule(rule_pk: int, body: RuleChange) -> Any:
    fields = _rule_fields(body)
    _nothing_given(fields, "sensitive rule", "name, words, category or enabled")
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
@endpoint("Delete a rule", response=DeletedId)
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
@endpoint("Sensitive words found in stored messages, with the message and review", query=AlertQuery,
          response=Page[AlertOut])
def list_alerts(query: AlertQuery) -> Any:
    """§7.4.1: by review state, time, rule or category, sender (staff) and customer; newest first."""
    return page_rows(alert_rows(query), _alerts_json, query)


def alert_rows(query: AlertQuery) -> Select:
    """The alerts `query` asks for in this token's corps, newest first (the list, its CSV and its counts)."""
    rows = _scoped(select(SensitiveAlert), SensitiveAlert.corp_id)
    for value, column in ((query.status, SensitiveAlert.review_status), (query.category, SensitiveAlert.category),
                          (query.rule_id, SensitiveAlert.rule_pk), (query.staff, SensitiveAlert.userid),
                          (query.customer, SensitiveAlert.external_userid)):
        if value:
            rows = rows.where(column == value)
    rows = time_filter(rows, SensitiveAlert.at, query)
    return rows.order_by(SensitiveAlert.at.desc(), SensitiveAlert.id.desc())


@bp.patch("/sensitive-alerts/<id:alert_pk>")
@require(Role.admin)
@endpoint("Review an alert", body=AlertReview, response=AlertOut)
def review_alert(alert_pk: int, body: AlertReview) -> Any:
    """§7.4.2: review (or review again) with a note."""
    status, note = body.status.value, body.note
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
@endpoint("Who is alerted, and the reply limit in working minutes", query=CorpQuery,
          response=ModerationSettingsOut)
def get_moderation_settings(query: CorpQuery) -> Any:
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        return jsonify(moderation_settings(s, corp_id).public())


@bp.put("/moderation/settings")
@require(Role.admin)
@endpoint("Change the alert recipients and the reply limit", body=ModerationSettingsChange,
          response=ModerationSettingsOut)
def put_moderation_settings(body: ModerationSettingsChange) -> Any:
    fields = _given(body)
    _nothing_given(fields, "settings",
                   "alert_userids, alert_notify_sender, reply_timeout_minutes or reply_timeout_notify")
    if "alert_userids" in fields:
        fields["alert_userids"] = list(dict.fromkeys(fields["alert_userids"]))
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        row = moderation_settings(s, corp_id)
        for key, value in fields.items():
            setattr(row, key, value)
        audit(s, "moderation_settings.update", f"corp:{corp_id}", **fields)
        return jsonify(row.public())


@bp.get("/working-hours")
@require(Role.admin)
@endpoint("The corp's working hours (Mon-Fri 09:00-18:00 until set)", query=CorpQuery, response=WorkingHoursOut)
def get_working_hours(query: CorpQuery) -> Any:
    with _runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        row = s.scalar(select(WorkCalendar).where(WorkCalendar.corp_id == corp_id))
        calendar = working_hours.parse({"week": row.week, "holidays": row.holidays})[0] if row else None
        return jsonify({"corp_id": corp_id, "default": row is None,
                        **(calendar or working_hours.DEFAULT).public()})


@bp.put("/working-hours")
@require(Role.admin)
@endpoint("Set the working hours: time ranges per weekday, holidays", body=WorkingHoursIn, response=WorkingHoursOut)
def put_working_hours(body: WorkingHoursIn) -> Any:
    """§10.2: the week's ranges (several a day) and the holidays."""
    calendar, problems = working_hours.parse(_given(body))
    _invalid(problems, "working hours")
    assert calendar is not None
    stored = calendar.public()
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        row, _ = get_or_create(s, WorkCalendar, {"corp_id": corp_id})
        row.week, row.holidays = stored["week"], stored["holidays"]
        audit(s, "working_hours.update", f"corp:{corp_id}", **stored)
    return jsonify({"corp_id": corp_id, "default": False, **stored})


# -- reply timeouts -------------------------------------------------------------------------------------------
@bp.get("/reply-timeouts")
@require(Role.admin)
@endpoint("Customer messages not answered within the limit, per staff member", query=TimeoutQuery,
          response=Page[ReplyTimeoutOut])
def list_timeouts(query: TimeoutQuery) -> Any:
    """§7.2: by staff member, customer, kf account and the customer message's time; newest first."""
    rows = _scoped(select(ReplyTimeout), ReplyTimeout.corp_id)
    for value, column in ((query.staff, ReplyTimeout.userid), (query.customer, ReplyTimeout.external_userid),
                          (query.open_kfid, ReplyTimeout.open_kfid)):
        if value:
            rows = rows.where(column == value)
    rows = time_filter(rows, ReplyTimeout.message_at, query)
    return page(rows.order_by(ReplyTimeout.message_at.desc(), ReplyTimeout.id.desc()), ReplyTimeout.public, query)


# -- message templates ----------------------------------------------------------------------------------------
_TEMPLATE_KEYS = ("name", "category", "msgtype", "body", "variables")


def _checked_template(body: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The template's fields after applying `body` (the fields given) to `base`, checked as a whole."""
    fields = {k: body[k] for k in _TEMPLATE_KEYS if k in body}
    merged = {**base, **fields}
    category = merged.get("category")
    fixed = templates.CATEGORY_VARIABLES.get(category) if isinstance(category, str) else None
    if fixed is not None and "variables" not in body:
        merged["variables"] = list(fixed)  # a notification category's own, whatever the template had before
    _invalid(templates.template_errors(category, merged.get("msgtype"), merged.get("body"), merged.get("variables")),
             "message template")
    merged["variables"] = list(fixed) if fixed is not None else merged.get("variables") or []
    if "enabled" in body:
        merged["enabled"] = body["enabled"]
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
@endpoint("App-message templates", query=TemplateQuery, response=Page[TemplateOut])
def list_templates(query: TemplateQuery) -> Any:
    rows = _scoped(select(MessageTemplate).where(MessageTemplate.deleted_at.is_(None)), MessageTemplate.corp_id)
    if query.category:
        rows = rows.where(MessageTemplate.category == query.category)
    enabled = _flag(query.enabled)
    if enabled is not None:
        rows = rows.where(MessageTemplate.enabled.is_(enabled))
    keyword = (query.keyword or "").strip()
    if keyword:
        rows = rows.where(MessageTemplate.name.like(_like(keyword), escape="\\"))
    return page(rows.order_by(MessageTemplate.id), MessageTemplate.public, query)


@bp.post("/message-templates")
@require(Role.admin)
@endpoint("Add a template ({{variable}} placeholders; at most 3 per notification category)", body=TemplateIn,
          response=TemplateOut, status=201)
def create_template(body: TemplateIn) -> Any:
    fields = _checked_template(_given(body), {})
    with _runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _room_in_category(s, corp_id, fields["category"])
        row = MessageTemplate(corp_id=corp_id, created_by=g.principal.name, **fields)
        s.add(row)
        s.flush()
        audit(s, "message_template.create", f"message_template:{row.id}", name=row.name, category=row.category)
        out = row.public()
    return jsonify(out), 201


@bp.patch("/message-templates/<id:template_pk>")
@require(Role.admin)
@endpoint("Change a disabled template, or enable/disable one (409 when editing an enabled one)",
          body=TemplateChange, response=TemplateOut)
def update_template(template_pk: int, body: TemplateChange) -> Any:
    """§9.13.1: an enabled template is read-only, apart from disabling it."""
    given = _given(body)
    with _runtime().WriteSession.begin() as s:
        row = _mine(s.get(MessageTemplate, template_pk), "message template", template_pk)
        if row.enabled and set(given) - {"enabled"}:
            raise ApiError(409, "conflict", "an enabled template can only be disabled; disable it to edit it")
        fields = _checked_template(given, {k: getattr(row, k) for k in (*_TEMPLATE_KEYS, "enabled")})
        if fields["category"] != row.category:
            _room_in_category(s, row.corp_id, fields["category"], besides=row.id)
        for key, value in fields.items():
            setattr(row, key, value)
        audit(s, "message_template.update", f"message_template:{row.id}",
              **{k: v for k, v in given.items() if k != "body"})
        s.flush()
        out = row.public()
    return jsonify(out)


@bp.delete("/message-templates/<id:template_pk>")
@require(Role.admin)
@endpoint("Delete a disabled template", response=DeletedId)
def delete_template(template_pk: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        row = _mine(s.get(MessageTemplate, template_pk), "message template", template_pk)
        if row.enabled:
            raise ApiError(409, "conflict", "an enabled template cannot be deleted; disable it first")
        row.deleted_at = utcnow()
        audit(s, "message_template.delete", f"message_template:{row.id}")
    return jsonify({"deleted": template_pk})
