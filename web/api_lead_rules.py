"""Lead assignment rules (线索自动分配, 004 §9.9.2), the web sites that push leads (lead sources, 002
§3.7-3.8) and their inbound webhook. Rules and sources are admin work; the webhook is signed by a source
(web/lead_inbound.py), not a token."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.queue import enqueue_outbox
from models import LeadRule, LeadSource, Role, Staff
from models.auth import record_audit
from models.db import utcnow
from rules.lead_rules import group_errors
from web import errors, lead_writes
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.lead_inbound import remember, signed
from web.sales_scope import runtime
from web.schemas.common import CorpQuery, DeletedId, Items
from web.schemas.leads import (InboundBody, InboundOut, RuleBody, RuleEdit, RuleOut, SourceBody, SourceMade,
                               SourceOut)
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_lead_rules", __name__, url_prefix="/api/v1")
errors.register(bp)


def _rule_json(r: LeadRule) -> dict[str, Any]:
    return {"id": r.id, "corp_id": r.corp_id, "name": r.name, "position": r.position, "conditions": r.conditions,
            "spread": r.spread, "targets": r.targets, "turn": r.turn, "enabled": r.enabled}


def _rules(s: Session, corp_id: str) -> list[LeadRule]:
    return list(s.scalars(select(LeadRule).where(LeadRule.corp_id == corp_id).order_by(LeadRule.position,
                                                                                         LeadRule.id)))


def _place(s: Session, rule: LeadRule, position: int | None) -> None:
    """Put `rule` at `position` among the corp's rules (None: where it is, or last) and renumber 0, 1, …"""
    others = [r for r in _rules(s, rule.corp_id) if r.id != rule.id]
    at = len(others) if position is None else min(position, len(others))
    others.insert(at, rule)
    for number, r in enumerate(others):
        r.position = number


def _checked(s: Session, corp_id: str, conditions: dict[str, Any] | None, targets: list[str] | None) -> None:
    problems = group_errors(conditions) if conditions is not None else []
    if problems:
        raise ApiError(422, "invalid", f"conditions: {problems[0]}", {"conditions": "; ".join(problems[:5])})
    if targets is not None:
        known = set(s.scalars(select(Staff.userid).where(Staff.corp_id == corp_id, Staff.userid.in_(targets))))
        unknown = [t for t in targets if t not in known]
        if unknown:
            raise lead_writes.invalid("targets", f"not members of this corp: {', '.join(unknown[:5])}")


@bp.get("/lead-rules")
@require(Role.admin)
@endpoint("The corp's lead assignment rules, in the order they are tried (first match wins)", query=CorpQuery,
          response=Items[RuleOut])
def list_rules(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        items = [_rule_json(r) for r in _rules(s, corp_id)]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/lead-rules")
@require(Role.admin)
@endpoint("Add an assignment rule: conditions over lead fields (AND/OR groups, two levels), its targets and "
          "how it spreads leads over them (round robin or random)", body=RuleBody, response=RuleOut, status=201)
def create_rule(body: RuleBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _checked(s, corp_id, body.conditions, body.targets)
        rule = LeadRule(corp_id=corp_id, name=body.name, conditions=body.conditions, spread=body.spread.value,
                        targets=list(dict.fromkeys(body.targets)), enabled=body.enabled, turn=0, position=0)
        s.add(rule)
        s.flush()
        _place(s, rule, body.position)
        audit(s, "lead_rule.create", f"lead_rule:{rule.id}", name=rule.name)
        return jsonify(_rule_json(rule)), 201


def _rule(s: Session, rule_id: int) -> LeadRule:
    rule = s.get(LeadRule, rule_id)
    if rule is None or not in_scope(rule.corp_id):
        raise ApiError(404, "not_found", f"no lead rule {rule_id}")
    return rule


@bp.patch("/lead-rules/<id:lead_rule_id>")
@require(Role.admin)
@endpoint("Change a rule (a field left out stays); position moves it", body=RuleEdit, response=RuleOut)
def update_rule(lead_rule_id: int, body: RuleEdit) -> Any:
    with runtime().WriteSession.begin() as s:
        rule = _rule(s, lead_rule_id)
        _checked(s, rule.corp_id, body.conditions, body.targets)
        changes = body.model_dump(mode="json", exclude_none=True)
        for key in ("name", "conditions", "spread", "enabled"):
            if key in changes:
                setattr(rule, key, changes[key])
        if body.targets is not None:
            rule.targets = list(dict.fromkeys(body.targets))
        if body.position is not None:
            _place(s, rule, body.position)
        audit(s, "lead_rule.update", f"lead_rule:{rule.id}", **changes)
        return jsonify(_rule_json(rule))


@bp.delete("/lead-rules/<id:lead_rule_id>")
@require(Role.admin)
@endpoint("Delete a rule", response=DeletedId)
def delete_rule(lead_rule_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        rule = _rule(s, lead_rule_id)
        s.delete(rule)
        audit(s, "lead_rule.delete", f"lead_rule:{lead_rule_id}", name=rule.name)
    return jsonify({"deleted": lead_rule_id})


# -- sources ---------------------------------------------------------------------------------------------------
def _source_json(src: LeadSource) -> dict[str, Any]:
    return {"id": src.id, "corp_id": src.corp_id, "name": src.name,
            "created_at": src.created_at.isoformat() if src.created_at else None}


@bp.get("/lead-sources")
@require(Role.admin)
@endpoint("The web sites that may push leads (their secrets are never shown again)", query=CorpQuery,
          response=Items[SourceOut])
def list_sources(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        items = [_source_json(src) for src in s.scalars(select(LeadSource).where(
            LeadSource.corp_id == corp_id, LeadSource.disabled_at.is_(None)).order_by(LeadSource.id))]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/lead-sources")
@require(Role.admin)
@endpoint("Add a web site that pushes leads: its id (X-Lead-Source) and secret (the HMAC key, shown this once)",
          body=SourceBody, response=SourceMade, status=201)
def create_source(body: SourceBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        if s.scalar(select(LeadSource.id).where(LeadSource.corp_id == corp_id, LeadSource.name == body.name)):
            raise ApiError(409, "conflict", f"name: a source {body.name!r} exists", {"name": "taken"})
        src = LeadSource(corp_id=corp_id, name=body.name, secret=secrets.token_hex(32))
        s.add(src)
        s.flush()
        s.refresh(src)  # created_at as stored (MariaDB keeps whole seconds), as the list will show it
        audit(s, "lead_source.create", f"lead_source:{src.id}", name=src.name)
        return jsonify(_source_json(src) | {"secret": src.secret}), 201


@bp.delete("/lead-sources/<id:lead_source_id>")
@require(Role.admin)
@endpoint("Disable a source: its signed requests are refused from now on", response=DeletedId)
def delete_source(lead_source_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        src = s.get(LeadSource, lead_source_id)
        if src is None or src.disabled_at is not None or not in_scope(src.corp_id):
            raise ApiError(404, "not_found", f"no lead source {lead_source_id}")
        src.disabled_at = utcnow()
        audit(s, "lead_source.delete", f"lead_source:{src.id}", name=src.name)
    return jsonify({"deleted": lead_source_id})


INBOUND = ("No token: signed by a lead source. Headers: X-Lead-Source (the source's id), X-Timestamp (Unix "
           "seconds, at most 5 minutes off), X-Signature = lowercase hex HMAC-SHA256 of X-Timestamp + '.' + the raw "
           "body with the source's secret; optional Idempotency-Key (≤128): a repeat gets the first answer (status "
           "and body) and creates nothing. A bad or old signature is a 401 and nothing is stored. The lead's source "
           "channel is the source's name; assignment rules run on it.")


@bp.post("/inbound/leads")
@signed
@endpoint("A web site pushes a lead (signed; see the description)", body=InboundBody, response=InboundOut,
          status=201, description=INBOUND)
def inbound_lead(body: InboundBody) -> Any:
    source: LeadSource = g.source
    values = lead_writes.clean(body.model_dump(include={"name", "mobile", "gender", "company", "position"})
                               | {"source": source.name})
    with runtime().WriteSession.begin() as s:
        lead, written = lead_writes.create(s, source.corp_id, values, [], body.fields, f"lead_source:{source.id}",
                                           source.name)
        record_audit(s, f"lead_source:{source.id}", "lead.create", f"lead:{lead.id}", corp_id=source.corp_id,
                     source=source.name)
        answer = {"id": lead.id, "status": lead.status, "owner": lead.owner_userid}
        remember(s, answer, 201)
    enqueue_outbox((o.id, o.queue) for o in written.outbox)
    return jsonify(answer), 201
