"""Which pools (公海) and pooled customers and leads a token may see (004 §4.8 适用部门): an admin token every
pool of its corps; a member token the pools whose departments (and the departments below them) hold the
member, and the pools with no departments (the whole corp). A pool, customer or lead outside that is a 404.

The default pool's leads are the corp's unassigned leads (no owner, open: models/lead.py
`unassigned_leads`): a lead has no pool of its own, so leaving the pool is being assigned. The claim limit
(CorpSettings.pool_claim_limit) counts what a member holds of both: their customers and their open leads."""

from __future__ import annotations

from flask import g
from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from models import CorpSettings, Customer, Lead, Staff
from models.lead import OPEN_LEAD_STATUSES, unassigned_leads
from models.pool import Pool, sees
from web.access import visible_userids
from web.errors import ApiError


def corp_pools() -> Select:
    """The pools of this token's corps, oldest first."""
    rows = select(Pool).order_by(Pool.id)
    return rows.where(Pool.corp_id == g.principal.corp_id) if g.principal.corp_id else rows


def visible_pool_ids(session: Session) -> set[int] | None:
    """The ids of the pools a member token sees (those whose departments hold them); None: every pool of the
    token's corps (not a member, or a member whose data scope is the whole corp: web/access.py)."""
    if visible_userids(session) is None:
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


def pooled_leads(session: Session) -> Select:
    """The unassigned leads of the default pools this token sees, oldest first. A corp whose default pool
    does not exist yet has one for the whole corp once made (no departments), so its leads are seen."""
    rows = unassigned_leads().order_by(Lead.id)
    if g.principal.corp_id:
        rows = rows.where(Lead.corp_id == g.principal.corp_id)
    if visible_userids(session) is None:
        return rows
    pool = session.scalar(corp_pools().where(Pool.is_default.is_(True)))
    return rows if pool is None or sees(session, pool, str(g.principal.userid)) else rows.where(false())


def pooled_lead(session: Session, lead_id: int) -> Lead:
    lead = session.scalar(pooled_leads(session).where(Lead.id == lead_id).with_for_update())
    if lead is None:
        raise ApiError(404, "not_found", f"no lead {lead_id} in a pool you see")
    return lead


def check_member(session: Session, corp_id: str, userid: str) -> None:
    if session.scalar(select(Staff.id).where(Staff.corp_id == corp_id, Staff.userid == userid)) is None:
        raise ApiError(422, "invalid", f"userid: {userid} is not a member of this corp", {"userid": "unknown"})


def check_claim_limit(session: Session, corp_id: str, userid: str) -> None:
    """409 when `userid` holds the corp's claim limit already: their customers and open leads together."""
    limit = session.scalar(select(CorpSettings.pool_claim_limit).where(CorpSettings.corp_id == corp_id))
    if limit is None:
        return
    customers = session.scalar(select(func.count()).where(Customer.corp_id == corp_id, Customer.owner_userid == userid,
                                                          Customer.deleted_at.is_(None))) or 0
    leads = session.scalar(select(func.count()).where(Lead.corp_id == corp_id, Lead.owner_userid == userid,
                                                      Lead.status.in_(OPEN_LEAD_STATUSES),
                                                      Lead.discarded_at.is_(None))) or 0
    if customers + leads >= limit:
        raise ApiError(409, "claim_limit", f"{userid} holds {customers} customers and {leads} leads, the corp's "
                                           f"limit is {limit}: return one before claiming another")
