"""Which pools (公海) and pooled customers a token may see (004 §4.8 适用部门): an admin token every pool of
its corps; a member token the pools whose departments (and the departments below them) hold the member, and
the pools with no departments (the whole corp). A pool or customer outside that is a 404."""

from __future__ import annotations

from flask import g
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models import Customer, Staff
from models.directory import sub_departments
from models.pool import Pool
from web.errors import ApiError


def corp_pools() -> Select:
    """The pools of this token's corps, oldest first."""
    rows = select(Pool).order_by(Pool.id)
    return rows.where(Pool.corp_id == g.principal.corp_id) if g.principal.corp_id else rows


def sees(session: Session, pool: Pool, userid: str) -> bool:
    """Is `userid` in a department the pool applies to (or the pool the whole corp's)?"""
    if not pool.departments:
        return True
    member_of = session.scalar(select(Staff.department).where(Staff.corp_id == pool.corp_id,
                                                              Staff.userid == userid)) or []
    return bool({int(d) for d in member_of} & sub_departments(session, pool.corp_id, set(pool.departments)))


def visible_pool_ids(session: Session) -> set[int] | None:
    """The ids of the pools a member token sees; None: every pool of the token's corps (not a member)."""
    if not g.principal.is_member:
        return None
    return {p.id for p in session.scalars(corp_pools()) if sees(session, p, str(g.principal.userid))}


def visible_pool(session: Session, pool_id: int) -> Pool:
    pool = session.scalar(corp_pools().where(Pool.id == pool_id))
    ids = visible_pool_ids(session)
    if pool is None or (ids is not None and pool.id not in ids):
        raise ApiError(404, "not_found", f"no pool {pool_id}")
    return pool


def pooled_customers(session: Session) -> Select:
    """The customers in the pools this token sees (not in the recycle bin), longest in the pool first."""
    rows = select(Customer).where(Customer.pooled_at.is_not(None), Customer.deleted_at.is_(None)).order_by(
        Customer.pooled_at, Customer.id)
    if g.principal.corp_id:
        rows = rows.where(Customer.corp_id == g.principal.corp_id)
    ids = visible_pool_ids(session)
    return rows if ids is None else rows.where(Customer.pool_id.in_(ids))


def pooled_customer(session: Session, customer_id: int) -> Customer:
    customer = session.scalar(pooled_customers(session).where(Customer.id == customer_id).with_for_update())
    if customer is None:
        raise ApiError(404, "not_found", f"no customer {customer_id} in a pool you see")
    return customer
