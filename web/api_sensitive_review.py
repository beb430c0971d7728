"""Reviewing sensitive-word hits (manual 7.3/7.4): the alerts as CSV (the list's filters), the messages around
a hit (N before and after it in the same conversation: a kf customer's with the account, or a member's with
the app), and the hits counted per staff member. Reads only; the list and the review are web/api_moderation.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from handlers.channels import corp_zone
from models import Message, Role, Staff
from models.conversation import MessageSource
from models.moderation import ReviewStatus, SensitiveAlert, SensitiveRule
from web import errors
from web.api import _runtime
from web.api_moderation import _mine, alert_rows
from web.auth import require
from web.csv_export import csv_chunks, csv_response, local
from web.endpoint import endpoint
from web.schemas.common import Items
from web.schemas.moderation import AlertContext, AlertQuery, ContextQuery, StaffAlertCount

bp = Blueprint("api_sensitive_review", __name__, url_prefix="/api/v1")
errors.register(bp)

HEADER = ["时间", "敏感词", "规则", "类型", "员工", "客户", "消息", "审核状态", "审核备注", "审核人"]


@bp.get("/sensitive-alerts/export")
@require(Role.admin)
@endpoint("The sensitive-word alerts as CSV (the list's filters; UTF-8 with BOM)", query=AlertQuery, response=bytes)
def export_alerts(query: AlertQuery) -> Any:
    def render(s: Session, alerts: list[SensitiveAlert]) -> list[list[Any]]:
        messages = dict(s.execute(select(Message.id, Message.content).where(
            Message.id.in_({a.message_pk for a in alerts}))).all())
        rules = dict(s.execute(select(SensitiveRule.id, SensitiveRule.name).where(
            SensitiveRule.id.in_({a.rule_pk for a in alerts}))).all())
        zones = {corp_id: corp_zone(s, corp_id) for corp_id in {a.corp_id for a in alerts}}
        return [[local(a.at, zones[a.corp_id]), a.word, rules.get(a.rule_pk, ""), a.category, a.userid or "",
                 a.external_userid or "", messages.get(a.message_pk, ""), a.review_status, a.review_note,
                 a.reviewed_by or ""] for a in alerts]

    return csv_response(csv_chunks(_runtime(), alert_rows(query), HEADER, render), "sensitive-alerts.csv")


@bp.get("/sensitive-alerts/<id:alert_pk>/context")
@require(Role.admin)
@endpoint("The messages around a hit: `before` and `after` messages of the same conversation, in order",
          query=ContextQuery, response=AlertContext)
def alert_context(alert_pk: int, query: ContextQuery) -> Any:
    with _runtime().Session() as s:
        alert = _mine(s.get(SensitiveAlert, alert_pk), "sensitive alert", alert_pk)
        hit = s.get_one(Message, alert.message_pk)
        same = [Message.corp_id == hit.corp_id, Message.source == hit.source]
        if hit.source == MessageSource.kf.value:
            same += [Message.open_kfid == hit.open_kfid, Message.external_userid == hit.external_userid]
        else:
            same += [Message.userid == hit.userid]
        earlier = and_(*same, (Message.send_time < hit.send_time)
                       | ((Message.send_time == hit.send_time) & (Message.id < hit.id)))
        later = and_(*same, (Message.send_time > hit.send_time)
                     | ((Message.send_time == hit.send_time) & (Message.id > hit.id)))
        before = list(s.scalars(select(Message).where(earlier).order_by(Message.send_time.desc(), Message.id.desc())
                                .limit(query.before)))[::-1]
        after = list(s.scalars(select(Message).where(later).order_by(Message.send_time, Message.id)
                               .limit(query.after)))
        return jsonify({"alert_id": alert.id, "hit": hit.public(), "before": [m.public() for m in before],
                        "after": [m.public() for m in after]})


@bp.get("/sensitive-alerts/by-staff")
@require(Role.admin)
@endpoint("Sensitive-word hits counted per staff member (the list's filters), most first", query=AlertQuery,
          response=Items[StaffAlertCount])
def alerts_by_staff(query: AlertQuery) -> Any:
    hits = alert_rows(query).order_by(None).subquery()
    pending = func.sum(case((hits.c.review_status == ReviewStatus.pending.value, 1), else_=0))
    with _runtime().Session() as s:
        counts = s.execute(select(hits.c.corp_id, hits.c.userid, func.count(), pending)
                           .group_by(hits.c.corp_id, hits.c.userid)).all()
        names = {(c, u): n for c, u, n in s.execute(select(Staff.corp_id, Staff.userid, Staff.name).where(
            Staff.userid.in_({u for _, u, _, _ in counts if u})))}
    items = sorted(({"corp_id": corp_id, "userid": userid, "name": names.get((corp_id, userid), userid or ""),
                     "alerts": int(n), "pending": int(p or 0)} for corp_id, userid, n, p in counts),
                   key=lambda row: (-row["alerts"], row["userid"] or ""))
    return jsonify({"items": items})
