"""Bulk actions (issue 17) as one job each, with one result per selected customer.

Every operation goes through the single write path it has one by one, so no rule exists twice:
- tag / untag: a mark_tag outbox row per customer (WeCom's mark_tag takes one follow relation;
  web.api_tags.plan_mark_tag), sent from this job a chunk at a time (`deliver_here`). WeCom's answer is
  the item's result: a refusal (84061 no such relation, 40068 unknown tag, …) is dead-lettered as any
  outbox row's, and the item shows its errcode; a retry WeCom asked for keeps the item open until the row ends.
- change_follower: a serving hand-over (在职转接, handlers.transfers.create_transfer) per current owner; WeCom
  allows no other way to move a customer. The item follows its hand-over item (done, refused, blocked, …).
- delete: into the recycle bin (models.recycle.soft_delete), audited per customer.
Leads (our own rows, no WeCom call): tag / untag through web.lead_writes.change_tags, delete as 废弃
(web.lead_writes.set_discarded), each in the lead's history.

Which customers the caller may act on was settled when the action was made (web/api_bulk_actions.py reads
them through the customer list's scope); the items the job finds here are those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.registry import HandlerContext
from handlers.transfers import ERRCODE_REASONS, REASONS, TransferRefused, awaiting_customers, create_transfer
from jobs.outbound import deliver_here
from jobs.progress import fail_run, tracked
from jobs.queue import enqueue_outbox, job, on_dead
from jobs.runtime import current
from models import (BulkAction, BulkItem, Customer, FollowRelation, FollowStatus, ItemStatus, Lead, Outbox,
                    OutboxStatus, TransferItem, TransferKind)
from models.auth import record_audit
from models.recycle import soft_delete

CHUNK = 100
"""Items per transaction and per batch of WeCom calls: progress moves every chunk."""
ERRCODE = re.compile(r"errcode (-?[0-9]+): ?(.*)", re.S)
CLOSED_TRANSFER = {ItemStatus.done.value: True, ItemStatus.pending.value: None, ItemStatus.waiting.value: None}


def _chunks(items: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


@job("run_bulk_action", queue="maintenance")
def run_bulk_action(bulk_id: int) -> str:
    runtime = current()
    with runtime.Session() as s:
        action = s.get(BulkAction, bulk_id)
        if action is None:
            return "skipped"
        job_id, kind, target = action.job_id, action.kind, action.target
        open_items = list(s.scalars(select(BulkItem.id).where(BulkItem.bulk_id == bulk_id, BulkItem.ok.is_(None),
                                                              BulkItem.outbox_id.is_(None),
                                                              BulkItem.transfer_item_id.is_(None))
                                    .order_by(BulkItem.position)))
    step = {("customers", "tag"): _mark, ("customers", "untag"): _mark, ("customers", "delete"): _delete,
            ("customers", "change_follower"): _hand_over, ("leads", "tag"): _tag_leads,
            ("leads", "untag"): _tag_leads, ("leads", "delete"): _discard_leads}[(target, kind)]
    with tracked(job_id) as progress:
        progress.total = len(open_items)
        progress.flush()
        for chunk in _chunks(open_items):
            step(bulk_id, chunk)
            progress.advance(len(chunk))
        with runtime.Session() as s:
            progress.result = counts(s, bulk_id)
    return "done"


@on_dead("run_bulk_action")
def _failed(args: list[Any], error: str) -> None:
    with current().Session() as s:
        action = s.get(BulkAction, args[0])
        job_id = action.job_id if action is not None else None
    fail_run(job_id, error)


def _load(s: Session, bulk_id: int, item_ids: list[int]) -> tuple[BulkAction, list[tuple[BulkItem, Customer | None]]]:
    action = s.get_one(BulkAction, bulk_id)
    items = list(s.scalars(select(BulkItem).where(BulkItem.id.in_(item_ids)).order_by(BulkItem.position)))
    customers = {c.id: c for c in s.scalars(select(Customer).where(
        Customer.id.in_([i.target_id for i in items]), Customer.corp_id == action.corp_id))}
    return action, [(i, customers.get(i.target_id)) for i in items]


def _fail(item: BulkItem, error: str, errcode: int | None = None) -> None:
    item.ok, item.errcode, item.error = False, errcode, error[:255]


def _follower(s: Session, customer: Customer, userid: str | None) -> str | None:
    """Whose relation a tag goes on: `userid` if they follow the customer, else (none asked) the owner, else the
    customer's first active follower."""
    active = list(s.scalars(select(FollowRelation.userid).where(
        FollowRelation.customer_id == customer.id, FollowRelation.status == FollowStatus.active.value)
        .order_by(FollowRelation.id)))
    if userid:
        return userid if userid in active else None
    if customer.owner_userid in active:
        return customer.owner_userid
    return active[0] if active else None


def _mark(bulk_id: int, item_ids: list[int]) -> None:
    """tag / untag: one mark_tag outbox row per customer, sent now as a batch; the items read WeCom's answers."""
    from web.api_tags import plan_mark_tag

    runtime = current()
    with runtime.WriteSession.begin() as s:
        action, rows = _load(s, bulk_id, item_ids)
        params = action.params
        add, remove = params["add"], params["remove"]
        ctx = HandlerContext(session=s, corp_id=action.corp_id, app_pk=params["app_pk"])
        for item, customer in rows:
            if customer is None or customer.deleted_at is not None:
                _fail(item, f"no customer {item.target_id}")
                continue
            userid = _follower(s, customer, params.get("userid"))
            if userid is None:
                _fail(item, f"{params.get('userid') or 'nobody'} follows customer {customer.id}")
                continue
            item.outbox_id = plan_mark_tag(ctx, customer, userid, add, remove, action.actor).id
        planned = [(row.id, row.queue) for row in ctx.pending_outbox]
    deliver_here(planned)


def _delete(bulk_id: int, item_ids: list[int]) -> None:
    """delete: each customer into the recycle bin, as DELETE /customers/<id> does."""
    with current().WriteSession.begin() as s:
        action, rows = _load(s, bulk_id, item_ids)
        for item, customer in rows:
            if customer is None or customer.deleted_at is not None:
                _fail(item, f"no customer {item.target_id}")
                continue
            soft_delete(s, customer, action.actor)
            record_audit(s, action.actor, "customer.delete", f"customer:{customer.id}",
                         external_userid=customer.external_userid, bulk_action=bulk_id)
            item.ok = True


def _hand_over(bulk_id: int, item_ids: list[int]) -> None:
    """change_follower: a serving hand-over to the taker per current owner (transfer_customer)."""
    with current().WriteSession.begin() as s:
        action, rows = _load(s, bulk_id, item_ids)
        taker, corp_id = action.params["takeover_userid"], action.corp_id
        by_owner: dict[str, list[tuple[BulkItem, Customer]]] = {}
        for item, customer in rows:
            if customer is None or customer.deleted_at is not None:
                _fail(item, f"no customer {item.target_id}")
            elif not customer.owner_userid:
                _fail(item, f"customer {customer.id} has no owner to hand over from")
            else:
                by_owner.setdefault(customer.owner_userid, []).append((item, customer))
        ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=action.params["app_pk"])
        for owner, owned in by_owner.items():
            held = set(awaiting_customers(s, corp_id, owner))
            movable = [(i, c) for i, c in owned if c.external_userid in held]
            for item, customer in owned:
                if customer.external_userid not in held:
                    _fail(item, f"{owner} no longer follows customer {customer.id}, or it is being handed over")
            if not movable:
                continue
            try:
                transfer = create_transfer(ctx, TransferKind.serving, owner, taker,
                                           [c.external_userid for _, c in movable], None,
                                           action.params.get("message", ""), by=action.actor)
            except TransferRefused as exc:
                for item, _ in movable:
                    _fail(item, f"{exc}: " + "; ".join(f"{k}: {v}" for k, v in exc.fields.items()))
                continue
            s.flush()
            made = {ext: pk for ext, pk in s.execute(select(TransferItem.external_userid, TransferItem.id).where(
                TransferItem.transfer_id == transfer.id))}
            for item, customer in movable:
                item.transfer_item_id = made[customer.external_userid]
            record_audit(s, action.actor, "transfer.create", f"transfer:{transfer.id}", kind=transfer.kind,
                         handover=owner, takeover=taker, customers=len(movable), bulk_action=bulk_id)
        planned = [(row.id, row.queue) for row in ctx.pending_outbox]
    enqueue_outbox(planned)


def _leads(s: Session, bulk_id: int, item_ids: list[int]) -> tuple[BulkAction, list[tuple[BulkItem, Lead]]]:
    """The action and its items' live leads; an item whose lead is gone (or discarded) fails here."""
    action = s.get_one(BulkAction, bulk_id)
    items = list(s.scalars(select(BulkItem).where(BulkItem.id.in_(item_ids)).order_by(BulkItem.position)))
    found = {lead.id: lead for lead in s.scalars(select(Lead).where(
        Lead.id.in_([i.target_id for i in items]), Lead.corp_id == action.corp_id, Lead.discarded_at.is_(None)))}
    live = []
    for item in items:
        if item.target_id in found:
            live.append((item, found[item.target_id]))
        else:
            _fail(item, f"no lead {item.target_id}")
    return action, live


def _tag_leads(bulk_id: int, item_ids: list[int]) -> None:
    """tag / untag leads: our own rows (lead_writes.change_tags), each change in the lead's history."""
    from web.lead_writes import change_tags

    with current().WriteSession.begin() as s:
        action, live = _leads(s, bulk_id, item_ids)
        tags = action.params["tag_ids"]
        for item, lead in live:
            change_tags(s, lead, tags if action.kind == "tag" else [], tags if action.kind == "untag" else [],
                        action.actor)
            item.ok = True


def _discard_leads(bulk_id: int, item_ids: list[int]) -> None:
    """delete leads: 废弃, the leads' bin (POST /leads/<id>/discard), audited per lead."""
    from web.lead_writes import set_discarded

    with current().WriteSession.begin() as s:
        action, live = _leads(s, bulk_id, item_ids)
        for item, lead in live:
            set_discarded(s, lead, True, action.actor)
            record_audit(s, action.actor, "lead.discard", f"lead:{lead.id}", bulk_action=bulk_id)
            item.ok = True


# -- results as the API shows them -------------------------------------------------------------------------
def results(s: Session, items: list[BulkItem]) -> list[dict[str, Any]]:
    """Each item's result: its own once settled, else its outbox row's or hand-over item's as it stands."""
    outbox = {o.id: o for o in s.scalars(select(Outbox).where(
        Outbox.id.in_([i.outbox_id for i in items if i.ok is None and i.outbox_id])))}
    transfer_items = {t.id: t for t in s.scalars(select(TransferItem).where(
        TransferItem.id.in_([i.transfer_item_id for i in items if i.ok is None and i.transfer_item_id])))}
    out = []
    for item in items:
        ok, errcode, error = item.ok, item.errcode, item.error
        if ok is None and item.outbox_id in outbox:
            ok, errcode, error = _from_outbox(outbox[item.outbox_id])
        elif ok is None and item.transfer_item_id in transfer_items:
            ok, errcode, error = _from_transfer(transfer_items[item.transfer_item_id])
        out.append({"id": item.target_id, "ok": ok, "errcode": errcode, "error": error})
    return out


def _from_outbox(row: Outbox) -> tuple[bool | None, int | None, str]:
    if row.status == OutboxStatus.done.value:
        return True, None, ""
    if row.status == OutboxStatus.failed.value:
        match = ERRCODE.search(row.error or "")
        if match:
            return False, int(match[1]), match[2].strip()[:255]
        return False, None, (row.error or "failed")[:255]
    return None, None, ""


def _from_transfer(item: TransferItem) -> tuple[bool | None, int | None, str]:
    if item.status in CLOSED_TRANSFER:
        return CLOSED_TRANSFER[item.status], None, ""
    reason = item.reason or REASONS.get(ItemStatus(item.status), "") or ERRCODE_REASONS.get(item.errcode or 0, "")
    return False, item.errcode, reason or item.status


def tally(found: list[dict[str, Any]]) -> dict[str, int]:
    """Results ok, failed and still open."""
    counted = {"ok": 0, "failed": 0, "pending": 0}
    for result in found:
        counted["pending" if result["ok"] is None else "ok" if result["ok"] else "failed"] += 1
    return counted


def counts(s: Session, bulk_id: int) -> dict[str, int]:
    """The action's items ok, failed and still open."""
    return tally(results(s, list(s.scalars(select(BulkItem).where(BulkItem.bulk_id == bulk_id)))))
