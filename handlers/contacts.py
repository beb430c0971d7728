"""change_external_contact: customers adding staff members, and the CRM rows that follow from it.

The event itself carries only ids (UserID, ExternalUserID, State, WelcomeCode), so the handler records
what the event says (the customer exists, this member follows them, through this channel state) and asks
the job layer, through the outbox, to fetch the full profile with externalcontact/get. Applying that
profile is also here (`apply_external_contact`): it is the same CRM write whoever triggers it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from handlers import timeline
from handlers.channels import code_for_state, count_add
from handlers.directory import apply_user  # noqa: F401  (re-exported: jobs.outbound uses it)
from handlers.registry import HandlerContext, on, prepares
from handlers.sop import enrol_added
from handlers.tags import preload_follow_tags, set_follow_tags
from handlers.welcome import plan_welcome
from models import Customer, FollowRelation, FollowStatus
from models.chunk import chunk_memo, memo
from models.db import get_or_create, insert_missing, utcnow
from models.recycle import restore
from models.task_rounds import cycle_added
from rules.customers import choose_owner
from wecom.events import ExternalContactEvent


ADDS = ("change_external_contact/add_external_contact", "change_external_contact/add_half_external_contact")
ENDS = ("change_external_contact/del_external_contact", "change_external_contact/del_follow_user")


@prepares(*ADDS, *ENDS)
def load_customers(session: Session, events: list[tuple[str, ExternalContactEvent]]) -> None:
    """The chunk's customers with their follow relations, in one SELECT (and one for the relations) per
    corp; the customers the adds name are inserted first where missing, all in one statement (one that
    exists, or is inserted concurrently, is left as it is and read back like the others)."""
    wanted: dict[str, set[str]] = {}
    new: dict[str, set[str]] = {}
    for corp_id, event in events:
        if event.external_user_id:
            wanted.setdefault(corp_id, set()).add(event.external_user_id)
            if event.routing_key in ADDS:
                new.setdefault(corp_id, set()).add(event.external_user_id)
    known = memo(session, _CUSTOMERS, dict)
    for corp_id, external_userids in wanted.items():
        insert_missing(session, Customer, [{"corp_id": corp_id, "external_userid": e}
                                           for e in sorted(new.get(corp_id, ()))])
        found = _load(session, corp_id, external_userids)
        for external_userid in external_userids:
            known[(corp_id, external_userid)] = found.get(external_userid)


_CUSTOMERS = "customers"  # chunk memo: (corp_id, external_userid) → Customer (follows loaded), None if none


def _load(session: Session, corp_id: str, external_userids: set[str]) -> dict[str, Customer]:
    return {c.external_userid: c for c in session.scalars(select(Customer).where(
        Customer.corp_id == corp_id, Customer.external_userid.in_(sorted(external_userids)))
        .options(selectinload(Customer.follows)))}


def load_synced(session: Session, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Before a batch of profile syncs is written (the sync_customer effect's rows: corp id, args), in one
    transaction with a chunk memo: their customers with their relations, and those relations' tags, in
    three SELECTs per corp instead of a SELECT and a flush per customer (`apply_external_contact`,
    `set_follow_tags`)."""
    known = memo(session, _CUSTOMERS, dict)
    wanted: dict[str, set[str]] = {}
    for corp_id, args in rows:
        wanted.setdefault(corp_id, set()).add(args["external_userid"])
    follow_ids: list[int] = []
    for corp_id, external_userids in wanted.items():
        found = _load(session, corp_id, external_userids)
        for external_userid, customer in found.items():
            known[(corp_id, external_userid)] = customer
            follow_ids += [f.id for f in customer.follows]
    preload_follow_tags(session, follow_ids)


def chunk_customer(ctx: HandlerContext, external_userid: str) -> tuple[bool, Customer | None]:
    """(True, the customer or None when there is none) when the chunk loaded it (`load_customers`);
    (False, None) when the caller must look it up itself."""
    known = chunk_memo(ctx.session)
    known = known.get(_CUSTOMERS) if known is not None else None
    key = (ctx.corp_id, external_userid)
    if known is None or key not in known:
        return False, None
    return True, known[key]


@on(*ADDS)
def add_external_contact(ctx: HandlerContext, event: ExternalContactEvent) -> None:
    """A customer added a member (or, half: added them, not yet accepted). Records the relation, counts the
    channel code the State names, plans the welcome if WeCom sent a WelcomeCode, and fetches the profile.

    Only a new add (a new relation, or one that had ended before this event) counts on the code and moves
    its rotation: a replay, or the full add after the half one, must not count the customer twice.
    """
    _, customer = chunk_customer(ctx, event.external_user_id)
    if customer is None:  # outside a chunk (process_event): looked up, inserted if missing
        customer, _ = get_or_create(
            ctx.session, Customer, {"corp_id": ctx.corp_id, "external_userid": event.external_user_id})
    added_at = event.create_time or utcnow()
    follow = next((f for f in customer.follows if f.userid == event.user_id), None)
    created = follow is None
    if follow is None:
        # No SAVEPOINT: a relation inserted meanwhile by another transaction fails this one at its flush,
        # and the chunk's rows are then taken again one by one (jobs/events.py), finding it.
        # Column defaults are only applied at the INSERT: the status refresh_owner reads is set here.
        follow = FollowRelation(customer_id=customer.id, userid=event.user_id, corp_id=ctx.corp_id,
                                state=event.state, added_at=added_at, status_changed_at=added_at,
                                status=FollowStatus.active.value)
        customer.follows.append(follow)
    code = code_for_state(ctx, event.state)
    first = timeline.record(ctx.session, customer.id, "added", f"inbox:{ctx.inbox_id}", added_at,
                            userid=event.user_id, state=event.state, code_id=code.id if code else None,
                            half=event.routing_key.endswith("add_half_external_contact"), fresh=ctx.first_attempt)
    if first and customer.deleted_at is not None:
        # A customer in the recycle bin who adds a member again comes back (004 §4.5: 重新添加客户进行维护).
        restore(ctx.session, customer, actor=f"wecom:{event.user_id}", source=f"inbox:{ctx.inbox_id}")
    readded = (first and not created and follow.status != FollowStatus.active.value
               and added_at >= follow.status_changed_at)
    if readded:
        # Re-added after a deletion: the relation lives again, with this add's channel and time.
        follow.status = FollowStatus.active.value
        follow.status_changed_at = added_at
        follow.state = event.state
        follow.added_at = added_at
    refresh_owner(customer)
    if code is not None:
        if first and (created or readded):
            count_add(ctx, code, follow, added_at)
        if not customer.channel:
            customer.channel = code.channel
    if first and (created or readded):
        enrol_added(ctx.session, follow, code.id if code else None, added_at)
        cycle_added(ctx.session, follow, added_at)
    if event.welcome_code:
        plan_welcome(ctx, event, code, added_at)
    ctx.outbox(
        "sync_customer",
        {"app_pk": ctx.app_pk, "external_userid": event.external_user_id},
        key=f"sync_customer:inbox:{ctx.inbox_id}", fresh=ctx.first_attempt,
    )


def refresh_owner(customer: Customer) -> None:
    customer.owner_userid = choose_owner(
        customer.owner_userid,
        [(f.userid, f.added_at, f.status == FollowStatus.active.value) for f in customer.follows],
    )


def apply_external_contact(session: Session, corp_id: str, payload: dict[str, Any]) -> Customer:
    """Upsert a customer and its follow relations from an externalcontact/get answer.

    Members missing from `follow_user` are left alone: WeCom lists only members in the app's visible
    range, so absence is not deletion.
    """
    info = payload["external_contact"]
    external_userid = info["external_userid"]
    known = chunk_memo(session)
    known = known.get(_CUSTOMERS) if known is not None else None  # a batch's, loaded by `load_synced`
    customer = (known or {}).get((corp_id, external_userid)) or _load(session, corp_id, {external_userid}).get(
        external_userid)
    if customer is None:  # fetched before its add was processed (a sync from the API): inserted, read back
        insert_missing(session, Customer, [{"corp_id": corp_id, "external_userid": external_userid}])
        customer = _load(session, corp_id, {external_userid})[external_userid]
    if known is not None:
        known[(corp_id, external_userid)] = customer
    follows = {f.userid: f for f in customer.follows}
    customer.name = info.get("name", customer.name)
    customer.avatar = info.get("avatar", customer.avatar)
    customer.type = info.get("type", customer.type)
    customer.gender = info.get("gender", customer.gender)
    customer.unionid = info.get("unionid", customer.unionid)
    customer.corp_name = info.get("corp_name", customer.corp_name)
    customer.position = info.get("position", customer.position)
    customer.synced_at = utcnow()
    for item in payload.get("follow_user", []):
        added_at = dt.datetime.fromtimestamp(int(item.get("createtime") or 0), dt.UTC)
        follow = follows.get(item["userid"])
        new = follow is None
        if follow is None:  # a concurrent insert of it fails this write at its flush; the effect is retried
            follow = follows[item["userid"]] = FollowRelation(customer_id=customer.id, userid=item["userid"],
                                                              corp_id=corp_id, added_at=added_at,
                                                              status=FollowStatus.active.value)
            customer.follows.append(follow)
        follow.remark = item.get("remark", "")
        follow.description = item.get("description", "")
        follow.remark_mobiles = list(item.get("remark_mobiles", []))
        follow.add_way = item.get("add_way")
        follow.state = item.get("state", follow.state)
        follow.added_at = added_at
        if "tags" in item:
            set_follow_tags(session, follow, item["tags"], new=new)
    refresh_owner(customer)
    return customer

