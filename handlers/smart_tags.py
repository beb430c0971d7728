"""Smart tags at work (智能标签, 004 §4.6.3): which rules a customer now matches, and the tagging that follows.

`smart_tag_event` is the one call each write path makes for an event that can change a rule's answer
(a message from the customer, the customer added or edited, a follow-up record, an opportunity written, a
radar link opened, a custom field changed): it loads only the corp's enabled rules that event can affect,
skips the customers a rule has tagged already, and tags the rest that match. `tag_matches` is shared with the
retroactive and daily runs (jobs/smart_tags.py). Tags are only ever added: a rule never removes one.

Tagging goes through mark_tag on the outbox (jobs/tags.py), as the follower whose relation is tagged (the
owner, 跟进人, else the earliest active follower), with `rule:<name>` as the actor so the FollowTag row says
which rule put it there; each customer a rule tags gets a SmartTagHit row. The caller enqueues the returned
outbox rows after its commit.

A group rule (subject `group`, 客户群标签) runs the same way over customer groups (`SUBJECTS`): its conditions
compile over `CustomerGroup` (handlers/smart_tag_group_sql.py), its hits are SmartTagGroupHit rows, and its
tags are our group tags, written at once (handlers/smart_tag_groups.py); its events are `group` and
`group_member` (`on_groups`, from handlers/group_store.py and handlers/groups.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from handlers.channels import corp_zone
from handlers.registry import HandlerContext
from handlers.smart_tag_group_sql import group_leaf
from handlers.smart_tag_groups import tag_groups
from handlers.smart_tag_sql import Leaf, Scope, customer_leaf, rule_condition
from handlers.tags import is_pending
from models import (Customer, CustomerGroup, FollowRelation, FollowTag, Outbox, SmartTagGroupHit, SmartTagHit,
                    SmartTagRule, Tag)
from models.customer import FollowStatus
from models.chunk import memo
from models.db import insert_unless_present, utcnow
from web.schemas.smart_tags import Conditions

# outbox rows a hook point wants enqueued after its commit, returned by every function here
Pending = list[Outbox]


def scope_for(session: Session, corp_id: str, now: dt.datetime | None = None,
              fresh: Mapping[int, Sequence[str]] | None = None) -> Scope:
    return Scope(session, corp_id, corp_zone(session, corp_id), now or utcnow(), fresh or {})


@dataclass(frozen=True)
class Subject:
    """What a rule tags: its table, which rows of it are live, how its conditions compile, where its hits go,
    and how its tags are added (returning the outbox rows to enqueue after the commit)."""

    model: Any
    live: Callable[[], ColumnElement[bool]]
    leaf: Leaf
    hit: Any
    hit_key: Any
    tag: Callable[[Session, SmartTagRule, list[int], list[int]], list[Outbox]]

    def hit_values(self, rule: SmartTagRule, subject_id: int, at: dt.datetime) -> dict[str, Any]:
        return {self.hit_key.key: subject_id, "rule_id": rule.id, "corp_id": rule.corp_id, "at": at}


def subject_of(rule: SmartTagRule) -> Subject:
    return SUBJECTS[rule.subject or "customer"]


def unmatched(scope: Scope, rule: SmartTagRule) -> Select:
    """Ids of the corp's live customers (not in the recycle bin) or groups (not dismissed) the rule matches and
    has not tagged yet, in id order."""
    subject = subject_of(rule)
    model = subject.model
    return select(model.id).where(
        model.corp_id == scope.corp_id, subject.live(),
        model.id.not_in(select(subject.hit_key).where(subject.hit.rule_id == rule.id)),
        rule_condition(scope, Conditions.model_validate(rule.conditions), subject.leaf)).order_by(model.id)


def count_unmatched(scope: Scope, rule: SmartTagRule) -> int:
    """How many `unmatched` finds (one COUNT over the same FROM and WHERE)."""
    model = subject_of(rule).model
    return scope.session.scalar(unmatched(scope, rule).with_only_columns(func.count(model.id)).order_by(None)) or 0


def matching(scope: Scope, rule: SmartTagRule, subject_ids: Iterable[int] | None = None,
             after_id: int = 0, limit: int | None = None) -> list[int]:
    """`unmatched` among `subject_ids`, or a batch of `limit` of them after `after_id`."""
    model = subject_of(rule).model
    query = unmatched(scope, rule).where(model.id > after_id)
    if subject_ids is not None:
        query = query.where(model.id.in_(list(subject_ids)))
    return list(scope.session.scalars(query.limit(limit) if limit else query))


def _tag_ids(session: Session, corp_id: str, tag_pks: list[int]) -> dict[int, str]:
    """Tag pk → WeCom tag id of the rule's tags that still exist in WeCom (mark_tag refuses the whole call
    for a deleted or not yet created one)."""
    return {pk: tag_id for pk, tag_id in session.execute(select(Tag.id, Tag.tag_id).where(
        Tag.corp_id == corp_id, Tag.id.in_(tag_pks), Tag.deleted_at.is_(None))) if not is_pending(tag_id)}


def _followers(session: Session, customer_ids: list[int]) -> dict[int, tuple[FollowRelation, Customer]]:
    """Each customer's relation to tag: the owner's if active, else the earliest active one."""
    rows = session.execute(select(FollowRelation, Customer).join(Customer, Customer.id == FollowRelation.customer_id)
                           .where(FollowRelation.customer_id.in_(customer_ids),
                                  FollowRelation.status == FollowStatus.active.value)
                           .order_by(FollowRelation.added_at, FollowRelation.id)).all()
    chosen: dict[int, tuple[FollowRelation, Customer]] = {}
    for follow, customer in rows:
        if customer.id not in chosen or follow.userid == customer.owner_userid:
            chosen[customer.id] = (follow, customer)
    return chosen


def mark_tags(session: Session, rule: SmartTagRule, customer_ids: list[int], tag_pks: list[int]) -> Pending:
    """mark_tag outbox rows adding `tag_pks` (those the relation lacks) to each customer's relation."""
    if not customer_ids:
        return []
    from bot.scope import contact_app_pk  # the bot's choice of app for mark_tag; bot imports handlers

    tag_ids = _tag_ids(session, rule.corp_id, tag_pks)
    followers = _followers(session, customer_ids)
    if not tag_ids or not followers:
        return []
    have = set(session.execute(select(FollowTag.follow_id, FollowTag.tag_pk).where(
        FollowTag.follow_id.in_([f.id for f, _ in followers.values()]), FollowTag.tag_pk.in_(list(tag_ids)))))
    ctx = HandlerContext(session=session, corp_id=rule.corp_id, app_pk=contact_app_pk(session, rule.corp_id))
    for customer_id, (follow, customer) in sorted(followers.items()):
        add = [tag_ids[pk] for pk in sorted(tag_ids) if (follow.id, pk) not in have]
        if add:
            ctx.outbox("mark_tag", {"app_pk": ctx.app_pk, "userid": follow.userid,
                                    "external_userid": customer.external_userid, "add": add, "remove": [],
                                    "actor": f"rule:{rule.name}"[:96]},
                       key=f"mark_tag:smart:{rule.id}:{customer_id}:{'.'.join(add)}"[:191])
    return ctx.pending_outbox


SUBJECTS: dict[str, Subject] = {
    "customer": Subject(Customer, lambda: Customer.deleted_at.is_(None), customer_leaf, SmartTagHit,
                        SmartTagHit.customer_id, mark_tags),
    "group": Subject(CustomerGroup, lambda: CustomerGroup.dismissed_at.is_(None), group_leaf, SmartTagGroupHit,
                     SmartTagGroupHit.group_id, tag_groups),
}


def tag_matches(session: Session, rule: SmartTagRule, subject_ids: list[int], at: dt.datetime) -> Pending:
    """Record the rule's hits on `subject_ids` (matches it has not tagged yet) and tag them. A hit a
    concurrent transaction recorded since `matching` ran (two events on one subject) is left to it: no
    error, no second tagging."""
    subject = subject_of(rule)
    new = [sid for sid in subject_ids if insert_unless_present(session, subject.hit, subject.hit_values(rule, sid, at))]
    return subject.tag(session, rule, new, list(rule.tag_pks))


def rules_for(session: Session, corp_id: str, trigger: str) -> list[SmartTagRule]:
    """The corp's enabled rules whose conditions `trigger` can change (SmartTagRule.triggers); read once per
    chunk (models/chunk.py), since every event and every profile sync of a batch asks for them."""
    return memo(session, ("smart_tag_rules", corp_id, trigger), lambda: list(session.scalars(
        select(SmartTagRule).where(SmartTagRule.corp_id == corp_id, SmartTagRule.enabled.is_(True),
                                   SmartTagRule.triggers.contains(f",{trigger},")).order_by(SmartTagRule.id)
        .execution_options(autoflush=False))))


def smart_tag_event(session: Session, corp_id: str, event: str, subject_ids: Iterable[int],
                    fresh: Mapping[int, Sequence[str]] | None = None) -> Pending:
    """The hook each write path calls once for `event` (web/schemas/smart_tags.py EVENTS) on the customers
    (or, for the group events, the customer groups) it touched, in its transaction; `fresh`: texts of the
    customers' messages stored in this transaction. Returns the outbox rows to enqueue after the commit."""
    ids = sorted(set(subject_ids))
    if not ids:
        return []
    rules = rules_for(session, corp_id, event)
    if not rules:
        return []
    scope = scope_for(session, corp_id, fresh=fresh)
    pending: Pending = []
    for rule in rules:
        pending += tag_matches(session, rule, matching(scope, rule, ids), scope.now)
    return pending


def on_context(ctx: HandlerContext, event: str, customer_ids: Iterable[int],
               fresh: Mapping[int, Sequence[str]] | None = None) -> None:
    """`smart_tag_event` from a handler: the rows join the handler's own outbox, enqueued after its commit."""
    ctx.pending_outbox.extend(smart_tag_event(ctx.session, ctx.corp_id, event, customer_ids, fresh))


def on_messages(ctx: HandlerContext, said: Mapping[str, Sequence[str]]) -> None:
    """The "message" event for a page of messages being stored: `said` is external_userid → the texts each
    customer wrote. Costs one query when the corp has no rule about messages."""
    if not said or not rules_for(ctx.session, ctx.corp_id, "message"):
        return
    ids = dict(ctx.session.execute(select(Customer.external_userid, Customer.id).where(
        Customer.corp_id == ctx.corp_id, Customer.external_userid.in_(sorted(said)))).all())
    on_context(ctx, "message", ids.values(), {ids[e]: texts for e, texts in said.items() if e in ids})


def on_write(session: Session, corp_id: str, event: str, customer_ids: Iterable[int]) -> None:
    """`smart_tag_event` from a write path outside the handlers (the admin API, the sidebar, the bot, an
    effect): its mark_tag rows are enqueued once `session` commits (nothing is sent for a rolled-back write)."""
    rows = [(o.id, o.queue) for o in smart_tag_event(session, corp_id, event, customer_ids)]
    if rows:
        from jobs.queue import enqueue_outbox  # jobs import the handlers

        sa_event.listen(session, "after_commit", lambda _s: enqueue_outbox(rows), once=True)


def on_groups(session: Session, corp_id: str, event: str, group_ids: Iterable[int]) -> None:
    """The `group` or `group_member` event on customer groups whose rows this transaction changed: group
    rules tag the groups they now match, in the same transaction (group tags are ours: nothing to send).
    Costs one query when the corp has no rule about that event."""
    ids = list(group_ids)
    if ids:
        session.flush()  # the groups' new counts and members, for the rules' queries
        smart_tag_event(session, corp_id, event, ids)
