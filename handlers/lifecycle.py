"""The rest of a follow relation's life: edited, deleted by the member, deleted by the customer (流失),
handed over (DELETE_BY_TRANSFER), or a hand-over the customer refused (transfer_fail)."""

from __future__ import annotations

from sqlalchemy import select

from handlers import timeline
from handlers.contacts import chunk_customer, refresh_owner
from handlers.registry import HandlerContext, on
from handlers.sop import stop_follow
from handlers.transfers import fail_from_callback
from models import CorpSettings, Customer, FollowRelation, FollowStatus
from models.corp import messaging_app
from models.db import utcnow
from wecom.events import ExternalContactEvent

TRANSFERRED = "transferred"


def _relation(ctx: HandlerContext, event: ExternalContactEvent) -> FollowRelation | None:
    loaded, customer = chunk_customer(ctx, event.external_user_id)
    if loaded:
        return next((f for f in customer.follows if f.userid == event.user_id), None) if customer else None
    return ctx.session.scalar(select(FollowRelation).join(Customer).where(
        Customer.corp_id == ctx.corp_id, Customer.external_userid == event.external_user_id,
        FollowRelation.userid == event.user_id))


def _end(ctx: HandlerContext, event: ExternalContactEvent, status: str, kind: str) -> FollowRelation | None:
    """Close the relation (if we know it) with `status`, once, and re-pick the owner."""
    follow = _relation(ctx, event)
    if follow is None:
        return None
    at = event.create_time or utcnow()
    if timeline.record(ctx.session, follow.customer_id, kind, f"inbox:{ctx.inbox_id}", at, userid=event.user_id,
                       fresh=ctx.first_attempt, source_detail=event.source):
        follow.status = status
        follow.status_changed_at = at
        refresh_owner(follow.customer)
        if status != TRANSFERRED:  # a hand-over moves the SOP instead (handlers/transfers.py)
            stop_follow(ctx.session, follow.customer_id, follow.userid, status, at)
    return follow


@on("change_external_contact/edit_external_contact")
def edit_external_contact(ctx: HandlerContext, event: ExternalContactEvent) -> None:
    """Remark or tags changed in WeCom: fetch the customer again."""
    ctx.outbox("sync_customer", {"app_pk": ctx.app_pk, "external_userid": event.external_user_id},
               key=f"sync_customer:inbox:{ctx.inbox_id}", fresh=ctx.first_attempt)


@on("change_external_contact/del_external_contact")
def del_external_contact(ctx: HandlerContext, event: ExternalContactEvent) -> None:
    """The member deleted the customer; with Source DELETE_BY_TRANSFER it is a hand-over, not a loss. If the
    corp wants it (删好友预警), the member's manager is told."""
    if event.source == "DELETE_BY_TRANSFER":
        _end(ctx, event, TRANSFERRED, "transferred")
        return
    follow = _end(ctx, event, FollowStatus.deleted_by_staff.value, "deleted_by_staff")
    if ctx.session.scalar(select(CorpSettings.notify_manager_on_staff_delete).where(
            CorpSettings.corp_id == ctx.corp_id)):  # 删好友预警 (9.3.1): the member's manager hears of it
        app_pk, agent_id = messaging_app(ctx.session, ctx.corp_id, prefer_pk=ctx.app_pk) or (ctx.app_pk, None)
        ctx.outbox("notify_staff_deleted", {"app_pk": app_pk, "agent_id": agent_id, "userid": event.user_id,
                                            "external_userid": event.external_user_id,
                                            "customer_name": follow.customer.name if follow else ""},
                   key=f"notify_staff_deleted:inbox:{ctx.inbox_id}", fresh=ctx.first_attempt)


@on("change_external_contact/del_follow_user")
def del_follow_user(ctx: HandlerContext, event: ExternalContactEvent) -> None:
    """The customer deleted the member (流失): tell the member, and their manager if the corp wants it."""
    follow = _end(ctx, event, FollowStatus.deleted_by_customer.value, "lost")
    app_pk, agent_id = messaging_app(ctx.session, ctx.corp_id, prefer_pk=ctx.app_pk) or (ctx.app_pk, None)
    ctx.outbox("notify_lost", {"app_pk": app_pk, "agent_id": agent_id, "userid": event.user_id,
                               "external_userid": event.external_user_id,
                               "customer_name": follow.customer.name if follow else ""},
               key=f"notify_lost:inbox:{ctx.inbox_id}", fresh=ctx.first_attempt)


@on("change_external_contact/transfer_fail")
def transfer_fail(ctx: HandlerContext, event: ExternalContactEvent) -> None:
    """The hand-over to UserID failed (customer_refused, customer_limit_exceed): mark it with the reason on
    the relations that were being handed over, and on the open hand-over item (handlers/transfers.py)."""
    customer = ctx.session.scalar(select(Customer).where(
        Customer.corp_id == ctx.corp_id, Customer.external_userid == event.external_user_id))
    if customer is None:
        return
    at = event.create_time or utcnow()
    if not timeline.record(ctx.session, customer.id, "transfer_failed", f"inbox:{ctx.inbox_id}", at,
                           userid=event.user_id, reason=event.fail_reason):
        return  # a replay: a later hand-over attempt may have moved the relation on since
    for follow in customer.follows:
        if follow.inherit_status in ("to_inherit", "transferring"):
            follow.inherit_status = "failed"
            follow.transfer_fail_reason = event.fail_reason
    fail_from_callback(ctx.session, ctx.corp_id, event.external_user_id, event.user_id, event.fail_reason)
