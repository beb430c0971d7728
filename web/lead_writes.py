"""Writing leads, whoever writes (the admin API, the import job, a web site's inbound call): one lead's
fields and tags with their change history, the duplicate-mobile check, assignment and what it converts,
and the automatic rules run on every new lead. No Flask here: the actor is passed in.

What "assigning converts" means (003 线索转化): the assignee becomes the owner, the lead's status becomes
`assigned` and the assignee gets one app message. A lead is no WeCom contact, so no customer is made:
the customer appears when the person adds the member on WeCom. If the corp already has a customer with
the lead's mobile when the lead is assigned, the two are linked at once (`customer_id`, status
`converted`); otherwise an admin links them by hand (`POST /leads/<id>/link`). The link is kept both ways:
a lead names its customer and a customer's leads are those naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (App, Corp, Customer, CustomField, Lead, LeadChange, LeadRule, LeadTag, Outbox, OutboxStatus, Staff,
                    Tag)
from models.db import utcnow
from models.directory import sub_departments
from models.fields import FieldSubject
from models.lead import OPEN_LEAD_STATUSES, LeadStatus
from models.lead_rules import Spread
from rules.fields import check_values, spec_of
from rules.lead_rules import at_random, even_split, matches, round_robin
from rules.leads import normal_gender, normal_mobile
from web.errors import ApiError

TEXT = ("name", "mobile", "gender", "company", "position", "source")
APP_PREFERENCE = {"agent": 0, "contact": 1, "kf": 2}


@dataclass
class Written:
    """What a write left to do after its commit: app messages to send."""

    outbox: list[Outbox] = field(default_factory=list)


def invalid(name: str, why: str) -> ApiError:
    return ApiError(422, "invalid", f"{name}: {why}", {name: why})


def clean(values: dict[str, Any]) -> dict[str, Any]:
    """The text fields of `values` as stored: the mobile normalised, the gender as male/female/""; 422
    naming the field otherwise."""
    out = dict(values)
    if "name" in out and not str(out["name"] or "").strip():
        raise invalid("name", "required")
    for key, normal in (("mobile", normal_mobile), ("gender", normal_gender)):
        if key in out:
            try:
                out[key] = normal(out[key] or "")
            except ValueError as exc:
                raise invalid(key, f"must be {exc}") from None
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in out.items()}


def duplicate(s: Session, corp_id: str, mobile: str, but: int | None = None) -> Lead | None:
    """The corp's lead with `mobile` (discarded ones too), other than `but`."""
    if not mobile:
        return None
    query = select(Lead).where(Lead.corp_id == corp_id, Lead.mobile_key == mobile)
    return s.scalar(query.where(Lead.id != but) if but else query)


def tag_rows(s: Session, corp_id: str, tag_pks: Iterable[int], name: str = "tags") -> list[Tag]:
    """The corp's live customer tags `tag_pks`; 422 naming `name` for one that is not."""
    wanted = set(tag_pks)
    if not wanted:
        return []
    rows = list(s.scalars(select(Tag).where(Tag.id.in_(wanted), Tag.corp_id == corp_id, Tag.deleted_at.is_(None))))
    missing = wanted - {t.id for t in rows}
    if missing:
        raise invalid(name, f"not tags of this corp: {', '.join(map(str, sorted(missing)))}")
    return rows


def tags_of(s: Session, lead_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in lead_ids}
    for lead_id, tag_pk in s.execute(select(LeadTag.lead_id, LeadTag.tag_pk).where(LeadTag.lead_id.in_(lead_ids))
                                     .order_by(LeadTag.tag_pk)):
        out[lead_id].append(tag_pk)
    return out


def _note(s: Session, lead: Lead, name: str, old: Any, new: Any, actor: str) -> None:
    s.add(LeadChange(lead_id=lead.id, field=name, old=str(old if old is not None else "")[:500],
                     new=str(new if new is not None else "")[:500], actor=actor, at=utcnow()))


def set_discarded(s: Session, lead: Lead, discard: bool, actor: str) -> None:
    """废弃 (out of the list, into the discarded one) or back to the status its owner and customer give it."""
    back = LeadStatus.converted if lead.customer_id else LeadStatus.assigned if lead.owner_userid else LeadStatus.new
    edit(s, lead, {"status": (LeadStatus.discarded if discard else back).value}, None, actor)
    lead.discarded_at = utcnow() if discard else None


def change_tags(s: Session, lead: Lead, add: Iterable[int], remove: Iterable[int], actor: str) -> None:
    """Add and remove tags (checked by the caller: `tag_rows`), each change in the history."""
    if not add and not remove:
        return
    held = set(tags_of(s, [lead.id])[lead.id])
    names = dict(s.execute(select(Tag.id, Tag.name).where(Tag.id.in_(set(add) | set(remove)))).all())
    for pk in sorted(set(add) - held):
        s.add(LeadTag(lead_id=lead.id, tag_pk=pk))
        _note(s, lead, "tags", "", names[pk], actor)
    gone = sorted(set(remove) & held - set(add))
    if gone:
        s.query(LeadTag).filter(LeadTag.lead_id == lead.id, LeadTag.tag_pk.in_(gone)).delete()
        for pk in gone:
            _note(s, lead, "tags", names[pk], "", actor)


def check_fields(s: Session, corp_id: str, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The lead's custom field values after `changes` (key → value, null clears); 422 naming each bad key."""
    fields = s.scalars(select(CustomField).where(CustomField.corp_id == corp_id, CustomField.deleted_at.is_(None),
                                                 CustomField.subject == FieldSubject.lead.value))
    cleaned, problems = check_values([spec_of(f) for f in fields], changes, current)
    if problems:
        key = next(iter(problems))
        raise ApiError(422, "invalid", f"fields.{key}: {problems[key]}",
                       {f"fields.{k}": v for k, v in problems.items()})
    out = dict(current)
    for key, result in cleaned.items():
        if result is None:
            out.pop(key, None)
        else:
            out[key] = result[0]
    return out


def edit(s: Session, lead: Lead, values: dict[str, Any], fields: dict[str, Any] | None, actor: str) -> None:
    """Change the lead's text fields and custom fields (already `clean`ed), each change in the history; 409
    for a mobile another lead of the corp has."""
    if values.get("mobile") and duplicate(s, lead.corp_id, values["mobile"], lead.id):
        raise ApiError(409, "duplicate", "mobile: another lead of this corp has this mobile",
                       {"mobile": "duplicate"})
    for key, value in values.items():
        if getattr(lead, key) != value:
            _note(s, lead, key, getattr(lead, key), value, actor)
            setattr(lead, key, value)
    lead.mobile_key = lead.mobile or None
    if fields is not None:
        after = check_fields(s, lead.corp_id, lead.fields or {}, fields)
        for key in sorted(set(after) | set(lead.fields or {})):
            if (lead.fields or {}).get(key) != after.get(key):
                _note(s, lead, f"fields.{key}", (lead.fields or {}).get(key), after.get(key), actor)
        lead.fields = after


def create(s: Session, corp_id: str, values: dict[str, Any], tag_pks: list[int], fields: dict[str, Any],
           actor: str, creator: str, owner: str | None = None) -> tuple[Lead, Written]:
    """A new lead (values `clean`ed), then assigned to `owner` if given, else by the corp's first matching
    rule, else flagged for manual handling. 409 for a mobile the corp has."""
    if duplicate(s, corp_id, values.get("mobile", "")):
        raise ApiError(409, "duplicate", "mobile: a lead of this corp has this mobile already",
                       {"mobile": "duplicate"})
    tags = tag_rows(s, corp_id, tag_pks)
    lead = Lead(corp_id=corp_id, creator=creator, fields=check_fields(s, corp_id, {}, fields),
                **{k: values.get(k, "") for k in TEXT})
    lead.mobile_key = lead.mobile or None
    try:
        with s.begin_nested():  # a concurrent writer of the same mobile: the unique key refuses this one
            s.add(lead)
            s.flush()
    except IntegrityError:
        raise ApiError(409, "duplicate", "mobile: a lead of this corp has this mobile already",
                       {"mobile": "duplicate"}) from None
    _note(s, lead, "created", "", lead.name, actor)
    change_tags(s, lead, [t.id for t in tags], [], actor)
    lead_tags = [str(t.id) for t in tags]
    written = Written()
    if owner is not None:
        assign(s, lead, owner, actor, written)
    else:
        auto_assign(s, lead, actor, written, lead_tags)
    return lead, written


def view(lead: Lead, tags: list[str]) -> dict[str, Any]:
    """The lead as a rule sees it (rules/lead_rules.py), with its `tags` (ids)."""
    out: dict[str, Any] = {k: getattr(lead, k) for k in TEXT}
    out["tags"] = tags
    out.update({f"fields.{k}": v if isinstance(v, str) else "、".join(map(str, v)) if isinstance(v, list) else str(v)
                for k, v in (lead.fields or {}).items()})
    return out


def auto_assign(s: Session, lead: Lead, actor: str, written: Written, tags: list[str]) -> LeadRule | None:
    """The corp's rules in order; the first that matches assigns the lead to one of its targets. None
    matched: the lead is flagged for manual handling."""
    rules = list(s.scalars(select(LeadRule).where(LeadRule.corp_id == lead.corp_id, LeadRule.enabled.is_(True))
                           .order_by(LeadRule.position, LeadRule.id)))
    if rules:
        seen = view(lead, tags)
        names = dict(s.execute(select(Tag.id, Tag.name).where(Tag.id.in_([int(t) for t in tags]))).all()) if tags \
            else {}
        for rule in rules:
            if rule.targets and matches(rule.conditions, seen, {str(k): v for k, v in names.items()}):
                assign(s, lead, pick(s, rule), f"{actor} (rule:{rule.id})", written)
                return rule
    lead.needs_manual = True
    return None


def pick(s: Session, rule: LeadRule) -> str:
    """The rule's next target. Round robin bumps the rule's turn with an UPDATE first: the row stays
    locked until the lead's transaction ends, so concurrent saves take turns one after another."""
    if rule.spread == Spread.random.value:
        return at_random(rule.targets)
    s.execute(update(LeadRule).where(LeadRule.id == rule.id).values(turn=LeadRule.turn + 1))
    turn = s.scalar(select(LeadRule.turn).where(LeadRule.id == rule.id))
    s.expire(rule, ["turn"])
    return round_robin(rule.targets, int(turn or 1))


def _app(s: Session, corp_id: str) -> tuple[int, int] | None:
    """(app pk, agent id) of the corp's app that sends staff messages, if it has one."""
    rows = s.execute(select(App.id, App.kind, App.agent_id).join(Corp).where(Corp.corp_id == corp_id,
                                                                             App.agent_id.is_not(None))).all()
    best = min(rows, key=lambda a: (APP_PREFERENCE.get(a.kind, 9), a.id), default=None)
    return (best.id, best.agent_id) if best else None


def assign(s: Session, lead: Lead, userid: str, actor: str, written: Written) -> None:
    """Give the lead to `userid` (converting it, see the module's docstring) and tell them once."""
    if lead.owner_userid != userid:
        _note(s, lead, "owner", lead.owner_userid, userid, actor)
    lead.owner_userid, lead.assigned_at, lead.needs_manual = userid, utcnow(), False
    status = LeadStatus.assigned.value
    if lead.customer_id is None and lead.mobile:
        customer = s.scalar(select(Customer.id).where(Customer.corp_id == lead.corp_id, Customer.mobile == lead.mobile)
                            .order_by(Customer.id).limit(1))
        if customer is not None:
            lead.customer_id = customer
            _note(s, lead, "customer_id", "", customer, actor)
    if lead.customer_id is not None:
        status = LeadStatus.converted.value
    if lead.status != status:
        _note(s, lead, "status", lead.status, status, actor)
        lead.status = status
    app = _app(s, lead.corp_id)
    key = f"lead_assigned:{lead.id}:{userid}"
    if app is None or s.scalar(select(Outbox.id).where(Outbox.key == key)) is not None:
        return
    text = f"你有一条新分配的线索：{lead.name}" + (f"（{lead.company}）" if lead.company else "") + \
        (f"，来源：{lead.source}" if lead.source else "")
    outbox = Outbox(key=key, corp_id=lead.corp_id, job="notify_admins", queue="outbound",
                    args={"app_pk": app[0], "agent_id": app[1], "userids": [userid], "text": text},
                    status=OutboxStatus.pending.value)
    s.add(outbox)
    s.flush()
    written.outbox.append(outbox)


def spread(s: Session, corp_id: str, members: list[str], count: int, how: str) -> list[str]:
    """Who takes each of `count` leads among `members`: round robin (in turn from the first) or even (to
    whoever holds the fewest open leads now, so loads end equal)."""
    if how == "round_robin":
        return [members[n % len(members)] for n in range(count)]
    held: dict[str, int] = dict(s.execute(select(Lead.owner_userid, func.count()).where(  # type: ignore[arg-type]
        Lead.corp_id == corp_id, Lead.owner_userid.in_(members), Lead.status.in_(OPEN_LEAD_STATUSES))
        .group_by(Lead.owner_userid)).all())
    return even_split(members, held, count)


def members_of(s: Session, corp_id: str, departments: Iterable[int]) -> list[str]:
    """The active members of `departments` and their sub-departments, by userid."""
    wanted = sub_departments(s, corp_id, set(departments))
    rows = s.execute(select(Staff.userid, Staff.department).where(Staff.corp_id == corp_id, Staff.status == "active")
                     .order_by(Staff.userid)).all()
    return [r.userid for r in rows if wanted & {int(d) for d in r.department or []}]


__all__ = ["Written", "assign", "auto_assign", "change_tags", "clean", "create", "duplicate", "edit", "members_of",
           "spread", "tag_rows", "tags_of"]
