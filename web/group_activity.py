"""Active groups (活跃群设置, 004 §4.2.2): the corp's one rule, and whether a group meets it.

The manual defines an active customer by messages, material dwell time, shares, views and orders, and an
active group by (a) 活跃度比例 = active customers / members ≥ a percent and (b) 发言次数 = messages per member
per day ≥ a percent. Without the chat archive (会话存档) WeCom delivers no customer-group message to us,
and the material and order metrics are not ours yet. What we do see of a group is its members' joins and
quits (change_external_chat). So:

- an active member is an external member in the group now whose current stint began inside the window
  (they joined, or came back, within the last `window_days` corp-local days, today included);
- 活跃度比例 = those members × 100 / members now (staff + external) ≥ `min_active_percent`;
- messages counted: none (0), so 发言次数 holds only while `min_message_percent` is 0 (the default);
- a dismissed group or one without members is never active.

Cheap for the list: the rule is one SQL expression (a correlated count over the stints' (group_id,
joined_at) index, a branch per corp for its rule and time zone), computed in the query for the page's rows
and used as is by the `active=` filter; nothing is precomputed, so a join shows at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from models import Corp, CustomerGroup, GroupActivityRule, GroupMember, MemberType, Role
from models.group_activity import DEFAULT_ACTIVE_PERCENT, DEFAULT_MESSAGE_PERCENT, DEFAULT_WINDOW_DAYS
from web import errors
from web.api_customers import _zone
from web.auth import audit, require
from web.endpoint import endpoint
from web.schemas.common import CorpQuery
from web.schemas.groups import ActivityRuleBody, ActivityRuleOut
from web.sales_scope import runtime
from web.scope import corp_and_app

bp = Blueprint("api_group_activity", __name__, url_prefix="/api/v1")
errors.register(bp)

COUNTS = ("active member: an external member now in the group who joined within the window (joins and quits "
          "come from change_external_chat); messages: none are counted (no chat archive), so a message "
          "threshold above 0 makes no group active")


def rule_of(s: Session, corp_id: str) -> GroupActivityRule:
    """The corp's rule, or the defaults (not stored) while it never saved one."""
    rule = s.scalar(select(GroupActivityRule).where(GroupActivityRule.corp_id == corp_id))
    if rule is None:
        rule = GroupActivityRule(corp_id=corp_id, window_days=DEFAULT_WINDOW_DAYS,
                                 min_active_percent=DEFAULT_ACTIVE_PERCENT, min_message_percent=DEFAULT_MESSAGE_PERCENT)
    return rule


def _meets(rule: GroupActivityRule, zone: Any, now: dt.datetime) -> ColumnElement[bool]:
    """A group of the rule's corp meets the rule (see the module's docstring)."""
    if rule.min_message_percent > 0:
        return false()
    today = now.astimezone(zone).date()
    since = dt.datetime.combine(today - dt.timedelta(days=rule.window_days - 1), dt.time(), zone)
    newcomers = (select(func.count(GroupMember.id))
                 .where(GroupMember.group_id == CustomerGroup.id, GroupMember.quit_at.is_(None),
                        GroupMember.member_type == MemberType.external.value, GroupMember.joined_at >= since)
                 .correlate(CustomerGroup).scalar_subquery())
    size = CustomerGroup.staff_count + CustomerGroup.external_count
    return and_(CustomerGroup.corp_id == rule.corp_id, CustomerGroup.dismissed_at.is_(None), size > 0,
                newcomers * 100 >= size * rule.min_active_percent)


def active_expression(s: Session, now: dt.datetime | None = None) -> ColumnElement[bool]:
    """True for a group that meets its corp's rule: one branch per corp this token may see."""
    now = now or dt.datetime.now(dt.UTC)
    corps = select(Corp.corp_id, Corp.timezone)
    if g.principal.corp_id:
        corps = corps.where(Corp.corp_id == g.principal.corp_id)
    branches = [_meets(rule_of(s, corp_id), _zone(tz), now) for corp_id, tz in s.execute(corps)]
    return or_(*branches) if branches else false()


def active_of(s: Session, group_ids: list[int]) -> dict[int, bool]:
    """group id → active, for a page of groups: one query."""
    if not group_ids:
        return {}
    rows = s.execute(select(CustomerGroup.id, active_expression(s)).where(CustomerGroup.id.in_(group_ids)))
    return {pk: bool(active) for pk, active in rows}


def _rule_json(rule: GroupActivityRule, saved: bool) -> dict[str, Any]:
    return {"corp_id": rule.corp_id, "window_days": rule.window_days, "min_active_percent": rule.min_active_percent,
            "min_message_percent": rule.min_message_percent, "saved": saved, "counts": COUNTS}


@bp.get("/group-activity-rule")
@require(Role.member)
@endpoint("The corp's group-activity rule (活跃群设置) and which inputs it counts", query=CorpQuery,
          response=ActivityRuleOut, description=__doc__ or "")
def get_rule(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        rule = rule_of(s, corp_id)
        return jsonify(_rule_json(rule, rule.id is not None))


@bp.put("/group-activity-rule")
@require(Role.admin)
@endpoint("Set the corp's group-activity rule (one per corp: window and thresholds)", body=ActivityRuleBody,
          response=ActivityRuleOut, description=__doc__ or "")
def put_rule(body: ActivityRuleBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        rule = s.scalar(select(GroupActivityRule).where(GroupActivityRule.corp_id == corp_id))
        if rule is None:
            rule = GroupActivityRule(corp_id=corp_id)
            s.add(rule)
        values = body.model_dump(exclude={"corp_id"})
        for key, value in values.items():
            setattr(rule, key, value)
        rule.updated_by = f"token:{g.principal.name}"
        s.flush()
        audit(s, "group_activity_rule.update", f"corp:{corp_id}", **values)
        return jsonify(_rule_json(rule, True))
