"""The customers in the public pool (公海, 004 §4.8; 001 资源池 领取/分配/导出) over the admin API: the list
with its filters, return by a follower with a reason, claim (领取) within the corp's per-member limit and the
pool's cool-down, assign by an admin (the receiver told by app message), delete (super_admin, to the recycle
bin), the CSV export, and each customer's history of moves.

Only our ownership (Customer.owner_userid) moves: no WeCom API is called, the WeCom friendship (follow
relations) stays as it is. Each move is one conditional UPDATE, so two claims of one customer at once give
it to one member (the other gets a 409). Scope: web/pool_scope.py; every write is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from handlers.bot import corp_zone
from jobs.queue import enqueue_outbox
from models import CorpSettings, Customer, Outbox, OutboxStatus, Role
from models.corp import messaging_app
from models.db import utcnow
from models.pool import Pool, PoolAction, PoolMove, PoolReturnReason, default_pool
from models.recycle import soft_delete
from rules.pool_days import claim_opens, local_day
from rules.privacy import mask_mobile
from web import errors
from web.api import _like, page_rows
from web.api_sales_exports import _export
from web.auth import audit, require
from web.csv_export import local
from web.endpoint import endpoint
from web.errors import ApiError
from web.pool_scope import check_claim_limit, check_member, pooled_customer, pooled_customers, sees, visible_pool
from web.sales_scope import actor, member_userid, runtime, visible_customer
from web.schemas.common import Items, Page
from web.schemas.pools import (AssignBody, ClaimBody, MovedOut, MoveOut, PoolCustomerFilters, PoolCustomerOut,
                               ReturnBody)

bp = Blueprint("api_pool_customers", __name__, url_prefix="/api/v1")
errors.register(bp)

SCOPE = ("A member sees the customers of the pools its departments may see (适用部门), an admin every pool of "
         "its corps; any other customer is a 404.")
EXPORT_HEADER = ["客户ID", "名称", "职务", "手机", "所属公海", "退回原因", "原跟进人", "进入公海时间"]


# -- list and export ---------------------------------------------------------------------------------------
def _rows(s: Session, filters: PoolCustomerFilters) -> Select:
    rows = pooled_customers(s)
    if filters.corp_id:
        rows = rows.where(Customer.corp_id == filters.corp_id)
    if filters.pool_id is not None:
        rows = rows.where(Customer.pool_id == visible_pool(s, filters.pool_id).id)
    if filters.name:
        rows = rows.where(Customer.name.like(_like(filters.name), escape="\\"))
    if filters.mobile:
        rows = rows.where(Customer.mobile.like(_like(filters.mobile), escape="\\"))
    if filters.reason:
        rows = rows.where(Customer.pool_reason == filters.reason)
    if filters.left_by:
        rows = rows.where(Customer.pool_left_by == filters.left_by)
    if filters.since:
        rows = rows.where(Customer.pooled_at >= filters.since)
    if filters.until:
        rows = rows.where(Customer.pooled_at < filters.until)
    return rows


def masked_corps(s: Session, corp_ids: set[str]) -> set[str]:
    """The corps whose mobiles this token sees masked (a member while 电话号码隐藏 is on, the default)."""
    if not g.principal.is_member:
        return set()
    shown = set(s.scalars(select(CorpSettings.corp_id).where(CorpSettings.corp_id.in_(corp_ids),
                                                             CorpSettings.mask_mobile_for_members.is_(False))))
    return corp_ids - shown


def _render(s: Session, rows: list[Customer]) -> list[dict[str, Any]]:
    names: dict[int | None, str] = dict(s.execute(select(Pool.id, Pool.name).where(
        Pool.id.in_({c.pool_id for c in rows}))).all())
    masked = masked_corps(s, {c.corp_id for c in rows})
    return [{"id": c.id, "corp_id": c.corp_id, "name": c.name, "position": c.position,
             "mobile": mask_mobile(c.mobile) if c.corp_id in masked else c.mobile, "pool_id": c.pool_id,
             "pool": names.get(c.pool_id, ""), "reason": c.pool_reason, "left_by": c.pool_left_by,
             "pooled_at": c.pooled_at.isoformat()} for c in rows]  # type: ignore[union-attr]


def _lines(s: Session, rows: list[Customer]) -> list[list[Any]]:
    zones = {corp_id: corp_zone(s, corp_id) for corp_id in {c.corp_id for c in rows}}
    return [[c["id"], c["name"], c["position"], c["mobile"], c["pool"], c["reason"], c["left_by"] or "",
             local(dt.datetime.fromisoformat(c["pooled_at"]), zones[c["corp_id"]])] for c in _render(s, rows)]


@bp.get("/pool-customers")
@require(Role.member)
@endpoint("Customers in the pools (公海) the caller sees, longest there first; mobiles masked for members "
          "while the corp hides them", query=PoolCustomerFilters, response=Page[PoolCustomerOut], description=SCOPE)
def list_pool_customers(query: PoolCustomerFilters) -> Any:
    with runtime().Session() as s:
        rows = _rows(s, query)
    return page_rows(rows, _render, query)


@bp.get("/pool-customers/export")
@require(Role.admin)
@endpoint("The pool customers as CSV (UTF-8 with BOM), streamed: the list's filters", query=PoolCustomerFilters,
          response=str)
def export_pool_customers(query: PoolCustomerFilters) -> Any:
    with runtime().Session() as s:
        rows = _rows(s, query)
    return _export("pool_customer", rows, EXPORT_HEADER, _lines, query)


# -- moves -------------------------------------------------------------------------------------------------
def _moved(s: Session, customer: Customer, action: PoolAction, userid: str | None, reason: str = "",
           reason_id: int | None = None) -> dict[str, Any]:
    """Write the move's history row and audit it; the answer of a move."""
    s.add(PoolMove(corp_id=customer.corp_id, customer_id=customer.id, pool_id=customer.pool_id,
                   action=action.value, userid=userid, by=actor(), reason=reason, reason_id=reason_id))
    audit(s, f"pool.{action.value}", f"customer:{customer.id}", pool_id=customer.pool_id, userid=userid,
          reason=reason)
    return {"id": customer.id, "pool_id": customer.pool_id, "owner_userid": customer.owner_userid,
            "action": action.value}


def _take(s: Session, customer: Customer, userid: str) -> None:
    """Give the pooled customer to `userid`, if still pooled (a claim that lost the race is a 409)."""
    now = utcnow()
    taken = s.execute(update(Customer).where(Customer.id == customer.id, Customer.pooled_at.is_not(None))
                      .values(owner_userid=userid, pooled_at=None, assigned_at=now)
                      .execution_options(synchronize_session=False))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(409, "conflict", f"customer {customer.id} has just left the pool")
    s.refresh(customer)


@bp.post("/pool-customers")
@require(Role.member)
@endpoint("Return a customer to a pool (退回公海) with one of the corp's return reasons: the follower gives up "
          "their own customer (409: not theirs, or in a pool already); the WeCom friendship stays",
          body=ReturnBody, response=MovedOut, status=201)
def return_customer(body: ReturnBody) -> Any:
    with runtime().WriteSession.begin() as s:
        return jsonify(give_back(s, body)), 201


def give_back(s: Session, body: ReturnBody) -> dict[str, Any]:
    """退回公海: the follower (a member: themselves) gives up their customer with one of the corp's return
    reasons; shared by the admin API and the sidebar's profile page, so both doors follow one rule."""
    customer = visible_customer(s, body.customer_id)
    follower = member_userid(body.userid, "customers")
    if customer.pooled_at is not None or customer.owner_userid != follower:
        raise ApiError(409, "conflict", f"customer {customer.id} is not followed by {follower}")
    reason = s.get(PoolReturnReason, body.reason_id)
    if reason is None or reason.corp_id != customer.corp_id:
        raise ApiError(422, "invalid", f"reason_id: no return reason {body.reason_id} in this corp",
                       {"reason_id": "unknown return reason"})
    if body.pool_id is not None:
        pool = visible_pool(s, body.pool_id)
        if pool.corp_id != customer.corp_id or not sees(s, pool, follower):
            raise ApiError(404, "not_found", f"no pool {body.pool_id} that {follower} sees")
    else:
        pool = s.get_one(Pool, customer.pool_id) if customer.pool_id else default_pool(s, customer.corp_id)
    s.flush()
    customer.pool_id, customer.pooled_at, customer.pool_left_by = pool.id, utcnow(), follower
    customer.owner_userid, customer.pool_reason = None, reason.name
    return _moved(s, customer, PoolAction.returned, follower, reason.name, reason.id)


@bp.post("/pool-customers/<id:customer_id>/claim")
@require(Role.member)
@endpoint("Claim (领取) a customer of a pool the member sees: they become its follower. 409: they hold the "
          "corp's claim limit already, or they are the follower it left and the pool's 领取限制 days have "
          "not passed (the first day they may is said)", body=ClaimBody, response=MovedOut, description=SCOPE)
def claim_customer(customer_id: int, body: ClaimBody) -> Any:
    with runtime().WriteSession.begin() as s:
        customer = pooled_customer(s, customer_id)
        userid = member_userid(body.userid, "claims")
        pool = s.get(Pool, customer.pool_id)
        assert pool is not None and customer.pooled_at is not None
        check_member(s, customer.corp_id, userid)
        if not sees(s, pool, userid):
            raise ApiError(404, "not_found", f"no customer {customer_id} in a pool {userid} sees")
        zone = corp_zone(s, customer.corp_id)
        if pool.claim_lock_days and customer.pool_left_by == userid:
            opens = claim_opens(customer.pooled_at, pool.claim_lock_days, zone)
            if local_day(utcnow(), zone) < opens:
                raise ApiError(409, "cool_down", f"{userid} followed customer {customer_id} before it went to the "
                                                 f"pool: they may claim it from {opens.isoformat()}")
        check_claim_limit(s, customer.corp_id, userid)
        _take(s, customer, userid)
        return jsonify(_moved(s, customer, PoolAction.claimed, userid))


@bp.post("/pool-customers/<id:customer_id>/assign")
@require(Role.admin)
@endpoint("Assign (分配) a pool customer to a member, who is told by app message (when the corp has an app "
          "that can send); no claim limit or cool-down applies", body=AssignBody, response=MovedOut)
def assign_customer(customer_id: int, body: AssignBody) -> Any:
    pending: list[tuple[int, str]] = []
    with runtime().WriteSession.begin() as s:
        customer = pooled_customer(s, customer_id)
        check_member(s, customer.corp_id, body.userid)
        _take(s, customer, body.userid)
        answer = _moved(s, customer, PoolAction.assigned, body.userid)
        app = messaging_app(s, customer.corp_id)
        if app is not None:  # keyed by the assignment's time: a customer assigned again is told again
            note = Outbox(key=f"pool_assigned:{customer.id}:{customer.assigned_at.isoformat()}",  # type: ignore[union-attr]
                          corp_id=customer.corp_id, job="notify_admins",
                          queue="outbound", status=OutboxStatus.pending.value,
                          args={"app_pk": app[0], "agent_id": app[1], "userids": [body.userid],
                                "text": f"公海客户分配：客户「{customer.name or customer.id}」已分配给你跟进。"})
            s.add(note)
            s.flush()
            pending.append((note.id, note.queue))
    enqueue_outbox(pending)  # after commit: a rolled-back assignment tells no one
    return jsonify(answer)


@bp.delete("/pool-customers/<id:customer_id>")
@require(Role.super_admin)
@endpoint("Delete a pool customer: to the recycle bin (restore: POST /customers/<id>/restore)",
          response=MovedOut)
def delete_pool_customer(customer_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        customer = pooled_customer(s, customer_id)
        soft_delete(s, customer, actor())
        return jsonify(_moved(s, customer, PoolAction.deleted, None))


@bp.get("/pool-customers/<id:customer_id>/history")
@require(Role.member)
@endpoint("A customer's pool moves, oldest first: returned, recycled, claimed, assigned, deleted (who, when, "
          "why). Seen by whoever sees the customer in a pool or as its follower", response=Items[MoveOut])
def pool_history(customer_id: int) -> Any:
    with runtime().Session() as s:
        if s.scalar(pooled_customers(s).where(Customer.id == customer_id)) is None:
            visible_customer(s, customer_id)
        moves = s.scalars(select(PoolMove).where(PoolMove.customer_id == customer_id).order_by(PoolMove.at,
                                                                                                PoolMove.id))
        items = [{"id": m.id, "customer_id": m.customer_id, "pool_id": m.pool_id, "action": m.action,
                  "userid": m.userid, "by": m.by, "reason": m.reason, "at": m.at.isoformat()} for m in moves]
    return jsonify({"items": items, "total": len(items)})
