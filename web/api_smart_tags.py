"""Smart-tag rules (智能标签, 004 §4.6.3 and 9.2.3) over the admin API: list, create, read, edit, delete, run.

Creating a rule (or changing its conditions) starts a run that tags the existing customers it matches
(存量客户); new matches are then tagged on the events that can change the answer (handlers/smart_tags.py) and
by the daily run (jobs/smart_tags.py). Changing the tags re-tags the customers the rule tagged; the old tags
stay. Deleting a rule removes it and its hit records, never a tag. Admin work; every write is audited.

A rule's `subject` (标签类型) is `customer` (corp tags on customers) or `group` (group tags, 群标签, on customer
groups, with the group condition kinds of web/schemas/group_smart_tags.py); it is set when the rule is made.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from handlers.smart_tags import SUBJECTS, subject_of
from jobs.smart_tags import request_run, start_run
from models import ChannelCode, CustomerGroup, CustomField, GroupTag, GroupTagGroup, Role, SmartTagRule, Staff, Tag
from models.fields import FieldSubject, FieldType
from web import errors
from web.api import _like, page_rows
from web.api_customers import _day_range
from web.auth import audit, require
from web.api_jobs import started
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.common import Deleted, Page, PageQuery
from web.schemas.jobs import Started
from web.schemas.smart_tags import SUBJECT_KINDS, Conditions, HitOut, RuleBody, RuleEdit, RuleOut, RuleQuery, RuleSaved
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_smart_tags", __name__, url_prefix="/api/v1")
errors.register(bp)


def _render(s: Session, rules: list[SmartTagRule]) -> list[dict[str, Any]]:
    hits: dict[int, int] = {}
    for name, subject in SUBJECTS.items():
        ids = [r.id for r in rules if r.subject == name]
        if ids:
            hits.update(s.execute(select(subject.hit.rule_id, func.count()).where(
                subject.hit.rule_id.in_(ids)).group_by(subject.hit.rule_id)).all())
    return [{"id": r.id, "corp_id": r.corp_id, "name": r.name, "subject": r.subject, "tag_pks": list(r.tag_pks),
             "conditions": r.conditions, "triggers": [t for t in r.triggers.split(",") if t], "enabled": r.enabled,
             "hits": hits.get(r.id, 0), "created_by": r.created_by,
             "created_at": r.created_at.isoformat() if r.created_at else None} for r in rules]


def _group_tags(s: Session, corp_id: str, tag_pks: list[int]) -> str | None:
    """What is wrong with a group rule's tags: unknown group tags, or two of one exclusive (互斥) tag group
    (a group holds one of them at most)."""
    rows = s.execute(select(GroupTag.id, GroupTag.tag_group_id, GroupTagGroup.exclusive).join(GroupTagGroup).where(
        GroupTag.corp_id == corp_id, GroupTag.id.in_(tag_pks))).all()
    if missing := sorted(set(tag_pks) - {r.id for r in rows}):
        return f"unknown group tags in this corp: {', '.join(map(str, missing))}"
    exclusive = [r.tag_group_id for r in rows if r.exclusive]
    if len(exclusive) != len(set(exclusive)):
        return "two tags of one exclusive (互斥) tag group: a group holds one of them at most"
    return None


def _checked(s: Session, corp_id: str, subject: str, tag_pks: list[int] | None,
             conditions: Conditions | None) -> None:
    """422 naming what the rule refers to that the corp does not have (tags, fields, channel codes, members),
    or a condition its subject cannot take."""
    problems: dict[str, str] = {}
    if tag_pks is not None and subject == "group":
        if wrong := _group_tags(s, corp_id, tag_pks):
            problems["tag_pks"] = wrong
    elif tag_pks is not None:
        known = set(s.scalars(select(Tag.id).where(Tag.corp_id == corp_id, Tag.id.in_(tag_pks),
                                                   Tag.deleted_at.is_(None))))
        if missing := sorted(set(tag_pks) - known):
            problems["tag_pks"] = f"unknown tags in this corp: {', '.join(map(str, missing))}"
    leaves = conditions.leaves() if conditions is not None else []
    if conditions is not None and (foreign := conditions.foreign_kinds(subject)):
        raise ApiError(422, "invalid", f"conditions: a {subject} rule cannot take {', '.join(foreign)} (it takes "
                                       f"{', '.join(sorted(SUBJECT_KINDS[subject]))})",
                       {"conditions": f"not a {subject} condition: {', '.join(foreign)}"})
    owners = {u for c in leaves if c.kind == "group_owner" for u in c.userids}
    if owners and (missing := sorted(owners - set(s.scalars(select(Staff.userid).where(
            Staff.corp_id == corp_id, Staff.userid.in_(owners)))))):
        problems["conditions"] = f"unknown members in this corp: {', '.join(map(str, missing))}"
    fields = {c.field_id: c.kind for c in leaves if c.kind in ("field", "birthday", "age")}
    if fields:
        types = dict(s.execute(select(CustomField.id, CustomField.type).where(
            CustomField.corp_id == corp_id, CustomField.subject == FieldSubject.customer.value,
            CustomField.deleted_at.is_(None), CustomField.id.in_(fields))).all())
        bad = sorted(f for f, kind in fields.items()
                     if f not in types or (kind != "field" and types[f] != FieldType.date.value))
        if bad:
            problems["conditions"] = f"unknown custom fields (a date field for birthday and age): " \
                                     f"{', '.join(map(str, bad))}"
    codes = {i for c in leaves if c.kind == "channel" for i in c.channel_code_ids}
    if codes and (missing := sorted(codes - set(s.scalars(select(ChannelCode.id).where(
            ChannelCode.corp_id == corp_id, ChannelCode.id.in_(codes)))))):
        problems["conditions"] = f"unknown channel codes: {', '.join(map(str, missing))}"
    if problems:
        raise ApiError(422, "invalid", "; ".join(problems.values()), problems)


def _rule(s: Session, rule_id: int) -> SmartTagRule:
    rule = s.get(SmartTagRule, rule_id)
    if rule is None or not in_scope(rule.corp_id):
        raise ApiError(404, "not_found", f"no smart-tag rule {rule_id}")
    return rule


def _requester() -> str:
    return f"token:{g.principal.name}"


@bp.get("/smart-tag-rules")
@require(Role.admin)
@endpoint("Smart-tag rules (智能标签), newest first, with how many customers (or groups) each has tagged",
          query=RuleQuery,
          response=Page[RuleOut])
def list_rules(query: RuleQuery) -> Any:
    rows = select(SmartTagRule).order_by(SmartTagRule.id.desc())
    corp_id = g.principal.corp_id or query.corp_id
    if corp_id:
        rows = rows.where(SmartTagRule.corp_id == corp_id)
    if query.name:
        rows = rows.where(SmartTagRule.name.like(_like(query.name), escape="\\"))
    if query.subject:
        rows = rows.where(SmartTagRule.subject == query.subject)
    created = _day_range(SmartTagRule.corp_id, SmartTagRule.created_at, query.created_from, query.created_to,
                         "created")
    return page_rows(rows if created is None else rows.where(created), _render, query)


@bp.post("/smart-tag-rules")
@require(Role.admin)
@endpoint("Make a smart-tag rule on customers or (subject `group`) customer groups; an enabled one starts "
          "tagging the existing customers or groups it matches (job)",
          body=RuleBody, response=RuleSaved, status=201)
def create_rule(body: RuleBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _checked(s, corp_id, body.subject, body.tag_pks, body.conditions)
        rule = SmartTagRule(corp_id=corp_id, name=body.name, subject=body.subject, tag_pks=sorted(set(body.tag_pks)),
                            conditions=body.conditions.model_dump(mode="json"), triggers=body.conditions.triggers(),
                            enabled=body.enabled, created_by=g.principal.actor)
        s.add(rule)
        s.flush()
        job_id = request_run(s, rule, _requester(), sweep=True, retag=None) if rule.enabled else None
        audit(s, "smart_tag_rule.create", f"smart_tag_rule:{rule.id}", name=rule.name, subject=rule.subject,
              tag_pks=rule.tag_pks, job_id=job_id)
        answer = _render(s, [rule])[0] | {"job": job_id}
    if job_id is not None:
        start_run(job_id)
    return jsonify(answer), 201


@bp.get("/smart-tag-rules/<id:rule_id>")
@require(Role.admin)
@endpoint("One smart-tag rule", response=RuleOut)
def get_rule(rule_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_render(s, [_rule(s, rule_id)])[0])


@bp.patch("/smart-tag-rules/<id:rule_id>")
@require(Role.admin)
@endpoint("Edit a rule: new tags re-tag the customers it tagged (old tags stay); new conditions tag new matches "
          "only (a job tags the existing customers that match them)", body=RuleEdit, response=RuleSaved)
def update_rule(rule_id: int, body: RuleEdit) -> Any:
    with runtime().WriteSession.begin() as s:
        rule = _rule(s, rule_id)
        _checked(s, rule.corp_id, rule.subject, body.tag_pks, body.conditions)
        added = sorted(set(body.tag_pks or ()) - set(rule.tag_pks))
        if body.name is not None:
            rule.name = body.name
        if body.tag_pks is not None:
            rule.tag_pks = sorted(set(body.tag_pks))
        if body.conditions is not None:
            rule.conditions, rule.triggers = body.conditions.model_dump(mode="json"), body.conditions.triggers()
        switched_on = body.enabled is True and not rule.enabled
        if body.enabled is not None:
            rule.enabled = body.enabled
        sweep = rule.enabled and (body.conditions is not None or switched_on)
        job_id = request_run(s, rule, _requester(), sweep=sweep, retag=added or None) if sweep or added else None
        audit(s, "smart_tag_rule.update", f"smart_tag_rule:{rule.id}", changed=sorted(body.model_fields_set),
              job_id=job_id)
        answer = _render(s, [rule])[0] | {"job": job_id}
    if job_id is not None:
        start_run(job_id)
    return jsonify(answer)


@bp.delete("/smart-tag-rules/<id:rule_id>")
@require(Role.admin)
@endpoint("Delete a rule and its hit records (the tags it added stay)", response=Deleted)
def delete_rule(rule_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        rule = _rule(s, rule_id)
        hit = subject_of(rule).hit
        s.execute(delete(hit).where(hit.rule_id == rule.id))
        s.delete(rule)
        audit(s, "smart_tag_rule.delete", f"smart_tag_rule:{rule_id}", name=rule.name)
    return jsonify({"id": rule_id, "deleted": True})


@bp.post("/smart-tag-rules/<id:rule_id>/run")
@require(Role.admin)
@endpoint("Tag every existing customer the rule matches and has not tagged yet (202: the job)", response=Started,
          status=202)
def run_rule(rule_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        rule = _rule(s, rule_id)
        if not rule.enabled:
            raise ApiError(409, "conflict", "the rule is disabled: enable it first")
        job_id = request_run(s, rule, _requester(), sweep=True, retag=None)
        audit(s, "smart_tag_rule.run", f"smart_tag_rule:{rule.id}", job_id=job_id)
    start_run(job_id)
    return started(job_id)


@bp.get("/smart-tag-rules/<id:rule_id>/hits")
@require(Role.admin)
@endpoint("The customers (or groups: their chat ids) the rule has tagged (覆盖客户/群), newest first",
          query=PageQuery, response=Page[HitOut])
def list_hits(rule_id: int, query: PageQuery) -> Any:
    with runtime().Session() as s:
        hit = subject_of(_rule(s, rule_id)).hit
    rows = select(hit).where(hit.rule_id == rule_id).order_by(hit.id.desc())
    return page_rows(rows, _hits, query)


def _hits(s: Session, hits: list[Any]) -> list[dict[str, Any]]:
    chats = dict(s.execute(select(CustomerGroup.id, CustomerGroup.chat_id).where(
        CustomerGroup.id.in_([h.group_id for h in hits if hasattr(h, "group_id")]))).all())
    return [{"customer_id": getattr(h, "customer_id", None),
             "chat_id": chats.get(h.group_id) if hasattr(h, "group_id") else None,
             "at": h.at.isoformat()} for h in hits]
