"""Hand-overs (客户继承, models/transfer.py) in the DB: making one (checked, with the 90-day rule applied before
any call to WeCom), and what WeCom's answers do to it. Shared by the admin API (web/api_transfers.py), the
daily automatic inheritance (jobs/inherit.py), the jobs that call WeCom (jobs/transfers.py) and the
transfer_fail callback (handlers/lifecycle.py).

Only WeCom saying a customer's hand-over is done (transfer_result status 1) moves our ownership: the
handing-over member's relation ends as `transferred`, the taker's is made, and the taker becomes the owner
where the handing-over member was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from handlers.contacts import refresh_owner
from handlers.registry import HandlerContext
from handlers.sop import move_follow
from models import Customer, CustomerGroup, FollowRelation, FollowStatus, Staff
from models.db import utcnow
from models.groups import GroupStatus
from models.transfer import OPEN, ItemStatus, Transfer, TransferItem, TransferKind

MAX_PER_CALL = 100  # WeCom: ≤100 external_userid (or chat ids) per transfer call
MAX_PER_TRANSFER = 10_000
MESSAGE_MAX_CHARS = 200
WINDOW = dt.timedelta(days=90)
TIMES_IN_WINDOW = 2
COUNTED = (ItemStatus.pending.value, ItemStatus.waiting.value, ItemStatus.done.value)
"""What the 90-day rule counts: hand-overs of the customer made in the last 90 days that succeeded or may
still succeed (queued, waiting for the customer, done); refused, failed and blocked ones do not count."""
TRANSFERRED = "transferred"

WECOM_STATUS = {1: ItemStatus.done, 2: ItemStatus.waiting, 3: ItemStatus.refused, 4: ItemStatus.limit,
                5: ItemStatus.failed}
"""transfer_result's status → ours (5: WeCom has no record of the hand-over)."""
REASONS = {
    ItemStatus.refused: "客户拒绝 (customer refused)", ItemStatus.limit: "接替成员客户达到上限 (taker at the limit)",
    ItemStatus.blocked: "90天内已转接2次 (transferred twice within 90 days)",
}
ERRCODE_REASONS = {
    40096: "不合法的外部联系人 (unknown external_userid)", 40097: "该成员尚未离职 (the member has not resigned)",
    40098: "接替成员尚未实名认证 (the taker is not verified)",
    40100: "客户已在转接中 (the customer is already being transferred)",
    40128: "客户转接过于频繁 (transferred too often)", 84061: "不存在外部联系人的关系 (no such relation)",
    5: "无接替记录 (WeCom has no record of this hand-over)",
}
FAIL_REASONS = {"customer_refused": ItemStatus.refused, "customer_limit_exceed": ItemStatus.limit}


class TransferRefused(Exception):
    """A hand-over that cannot be made as asked: `fields` says what is wrong; nothing was written."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.fields = fields


def awaiting_customers(s: Session, corp_id: str, userid: str) -> list[str]:
    """external_userids the member still follows and that no open hand-over holds."""
    held = select(TransferItem.external_userid).join(Transfer).where(
        TransferItem.corp_id == corp_id, Transfer.handover_userid == userid, TransferItem.status.in_(OPEN))
    return list(s.scalars(select(Customer.external_userid).join(FollowRelation).where(
        FollowRelation.corp_id == corp_id, FollowRelation.userid == userid,
        FollowRelation.status == FollowStatus.active.value, Customer.deleted_at.is_(None),
        Customer.external_userid.not_in(held)).order_by(Customer.id)))


def awaiting_groups(s: Session, corp_id: str, userid: str) -> list[str]:
    """chat_ids of the member's groups that no open hand-over holds."""
    held = select(TransferItem.chat_id).join(Transfer).where(
        TransferItem.corp_id == corp_id, Transfer.handover_userid == userid, TransferItem.status.in_(OPEN))
    return list(s.scalars(select(CustomerGroup.chat_id).where(
        CustomerGroup.corp_id == corp_id, CustomerGroup.owner_userid == userid,
        CustomerGroup.dismissed_at.is_(None), CustomerGroup.chat_id.not_in(held)).order_by(CustomerGroup.id)))


def recent_transfers(s: Session, corp_id: str, external_userids: Iterable[str], now: dt.datetime) -> dict[str, int]:
    """external_userid → hand-overs counted by the 90-day rule (COUNTED, made since now − 90 days)."""
    ids = list(external_userids)
    counts: dict[str, int] = {}
    for start in range(0, len(ids), 1000):
        counts.update(s.execute(
            select(TransferItem.external_userid, func.count()).join(Transfer)
            .where(TransferItem.corp_id == corp_id, TransferItem.external_userid.in_(ids[start:start + 1000]),
                   TransferItem.status.in_(COUNTED), Transfer.created_at >= now - WINDOW)
            .group_by(TransferItem.external_userid)).all())
    return counts


def _check_members(s: Session, corp_id: str, kind: TransferKind, handover: str, taker: str) -> None:
    status = dict(s.execute(select(Staff.userid, Staff.status).where(
        Staff.corp_id == corp_id, Staff.userid.in_([handover, taker]))).all())
    wrong: dict[str, str] = {}
    if handover not in status:
        wrong["handover_userid"] = "no such member in this corp"
    elif kind == TransferKind.resigned and status[handover] != "resigned":
        wrong["handover_userid"] = "this member has not resigned: use kind serving"
    elif kind == TransferKind.serving and status[handover] == "resigned":
        wrong["handover_userid"] = "this member has resigned: use kind resigned"
    if taker not in status:
        wrong["takeover_userid"] = "no such member in this corp"
    elif status[taker] != "active":
        wrong["takeover_userid"] = "the taker must be an active member"
    elif taker == handover:
        wrong["takeover_userid"] = "the taker must differ from the member handing over"
    if wrong:
        raise TransferRefused("bad members", wrong)


def create_transfer(ctx: HandlerContext, kind: TransferKind, handover: str, taker: str,
                    customers: list[str] | None, chats: list[str] | None, message: str = "", by: str = "",
                    auto: bool = False, now: dt.datetime | None = None) -> Transfer:
    """Write a hand-over and the outbox row that sends it. `customers`/`chats` None: for a resigned member
    every customer/group they still hold, for a serving one none (a serving hand-over names what moves). A
    customer handed over twice in the last 90 days is `blocked` here and never sent (WeCom's rule, doc 96325:
    at most twice in 90 natural days). Raises TransferRefused before any write."""
    s, corp_id, now = ctx.session, ctx.corp_id, now or utcnow()
    _check_members(s, corp_id, kind, handover, taker)
    if len(message) > MESSAGE_MAX_CHARS:
        raise TransferRefused("message too long", {"message": f"at most {MESSAGE_MAX_CHARS} characters"})
    held_customers, held_groups = awaiting_customers(s, corp_id, handover), awaiting_groups(s, corp_id, handover)
    resigned = kind == TransferKind.resigned
    customers = (held_customers if resigned else []) if customers is None else list(dict.fromkeys(customers))
    chats = (held_groups if resigned else []) if chats is None else list(dict.fromkeys(chats))
    wrong = {}
    if unknown := [c for c in customers if c not in set(held_customers)]:
        wrong["external_userids"] = f"not customers {handover} holds (or already being handed over): " + \
            ", ".join(unknown[:5])
    if unknown := [c for c in chats if c not in set(held_groups)]:
        wrong["chat_ids"] = f"not groups {handover} owns (or already being handed over): " + ", ".join(unknown[:5])
    if not customers and not chats and not wrong:
        wrong["external_userids"] = "nothing to hand over"
    if len(customers) + len(chats) > MAX_PER_TRANSFER:
        wrong["external_userids"] = f"at most {MAX_PER_TRANSFER} customers and groups at once"
    if wrong:
        raise TransferRefused("bad customers or groups", wrong)
    transfer = Transfer(corp_id=corp_id, app_pk=ctx.app_pk, kind=kind.value, handover_userid=handover,
                        takeover_userid=taker, message=message, created_by=by, auto=auto, created_at=now)
    s.add(transfer)
    s.flush()
    counts = recent_transfers(s, corp_id, customers, now)
    for ext in customers:
        blocked = counts.get(ext, 0) >= TIMES_IN_WINDOW
        s.add(TransferItem(transfer_id=transfer.id, corp_id=corp_id, external_userid=ext,
                           status=(ItemStatus.blocked if blocked else ItemStatus.pending).value,
                           reason=REASONS[ItemStatus.blocked] if blocked else ""))
    for chat in chats:
        s.add(TransferItem(transfer_id=transfer.id, corp_id=corp_id, chat_id=chat))
    if kind == TransferKind.resigned and chats:
        s.execute(update(CustomerGroup).where(CustomerGroup.corp_id == corp_id, CustomerGroup.chat_id.in_(chats))
                  .values(status=GroupStatus.inheriting.value).execution_options(synchronize_session=False))
    ctx.outbox("transfer_send", {"app_pk": ctx.app_pk, "transfer_id": transfer.id},
               key=f"transfer_send:{transfer.id}", fresh=True)
    return transfer


def hand_over(s: Session, corp_id: str, external_userid: str, handover: str, taker: str, at: dt.datetime) -> None:
    """WeCom says the customer is the taker's now: move our follow relation and ownership."""
    customer = s.scalar(select(Customer).where(Customer.corp_id == corp_id,
                                               Customer.external_userid == external_userid))
    if customer is None:
        return
    follows = {f.userid: f for f in customer.follows}
    old = follows.get(handover)
    if old is not None and old.status == FollowStatus.active.value:
        old.status, old.status_changed_at, old.inherit_status = TRANSFERRED, at, "inherited"
    new = follows.get(taker)
    if new is None:
        new = FollowRelation(customer_id=customer.id, corp_id=corp_id, userid=taker, added_at=at,
                             remark=old.remark if old else "", description=old.description if old else "")
        s.add(new)
        customer.follows.append(new)
    new.status, new.status_changed_at = FollowStatus.active.value, at
    move_follow(s, customer.id, handover, taker)
    if customer.owner_userid in (None, handover):
        customer.owner_userid = taker
    else:
        refresh_owner(customer)


def settle_item(s: Session, transfer: Transfer, item: TransferItem, status: ItemStatus, at: dt.datetime,
                errcode: int | None = None) -> None:
    """Record a final or waiting status for a customer's item (done moves the customer)."""
    if item.status not in OPEN:
        return
    item.status = status.value
    item.errcode = errcode
    item.reason = ERRCODE_REASONS.get(errcode or 0, f"WeCom errcode {errcode}") if errcode else REASONS.get(status, "")
    if status == ItemStatus.done:
        item.takeover_at = item.takeover_at or at
        hand_over(s, transfer.corp_id, item.external_userid, transfer.handover_userid, transfer.takeover_userid, at)
    if status not in (ItemStatus.waiting, ItemStatus.done):
        _mark_relation(s, transfer, item, "failed", item.reason[:64])


def _mark_relation(s: Session, transfer: Transfer, item: TransferItem, status: str, reason: str) -> None:
    follow = s.scalar(select(FollowRelation).join(Customer).where(
        Customer.corp_id == transfer.corp_id, Customer.external_userid == item.external_userid,
        FollowRelation.userid == transfer.handover_userid))
    if follow is not None:
        follow.inherit_status, follow.transfer_fail_reason = status, reason


def fail_from_callback(s: Session, corp_id: str, external_userid: str, taker: str, fail_reason: str) -> int:
    """transfer_fail: the open hand-over of the customer to `taker` is refused or at the limit; returns how
    many items changed."""
    status = FAIL_REASONS.get(fail_reason, ItemStatus.refused)
    rows = s.execute(select(TransferItem, Transfer).join(Transfer).where(
        TransferItem.corp_id == corp_id, TransferItem.external_userid == external_userid,
        Transfer.takeover_userid == taker, TransferItem.status.in_(OPEN))).all()
    for item, transfer in rows:
        settle_item(s, transfer, item, status, utcnow())
        item.reason = f"{REASONS[status]}: {fail_reason}"
    return len(rows)


def groups_moved(s: Session, transfer: Transfer, chats: list[str]) -> None:
    """groupchat/transfer moved these chats: the taker owns them."""
    if chats:
        s.execute(update(CustomerGroup).where(CustomerGroup.corp_id == transfer.corp_id,
                                              CustomerGroup.chat_id.in_(chats))
                  .values(owner_userid=transfer.takeover_userid,
                          status=(GroupStatus.inherited if transfer.kind == TransferKind.resigned
                                  else GroupStatus.normal).value)
                  .execution_options(synchronize_session=False))
