"""The default pool's leads (公海线索, 004 §4.8 "a default pool for unassigned leads") over the admin API: the
corp's unassigned leads (no owner, not discarded) listed for whoever sees the corp's default pool, and claim
(领取) by a member, within the same per-member claim limit as pool customers (customers and open leads held
count together: web/pool_scope.py `check_claim_limit`). Claiming is assigning (web/lead_writes.py `assign`):
the lead converts and the claimer is told once by app message. An admin assigns pool leads with
POST /api/v1/leads/assign, which takes them out of the pool the same way. Scope: web/pool_scope.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import Select, false, or_, update
from sqlalchemy.orm import Session

from jobs.queue import enqueue_outbox
from models import Lead, Role
from models.pool import default_pool
from rules.privacy import mask_mobile
from web import errors, lead_writes
from web.api import _like, page_rows
from web.api_leads import render
from web.api_pool_customers import masked_corps
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.pool_scope import check_claim_limit, check_member, pooled_lead, pooled_leads, sees, visible_pool
from web.sales_scope import actor, member_userid, runtime
from web.schemas.common import Page
from web.schemas.leads import LeadOut
from web.schemas.pools import ClaimBody, PoolLeadFilters

bp = Blueprint("api_pool_leads", __name__, url_prefix="/api/v1")
errors.register(bp)

SCOPE = ("A member sees the unassigned leads of its corp while its departments may see the corp's default pool "
         "(适用部门), an admin those of every corp it has; any other lead is a 404.")


def _rows(s: Session, filters: PoolLeadFilters) -> Select:
    rows = pooled_leads(s)
    if filters.corp_id:
        rows = rows.where(Lead.corp_id == filters.corp_id)
    if filters.pool_id is not None:
        pool = visible_pool(s, filters.pool_id)
        rows = rows.where(Lead.corp_id == pool.corp_id) if pool.is_default else rows.where(false())
    if filters.keyword:
        pattern = _like(filters.keyword)
        rows = rows.where(or_(Lead.name.like(pattern, escape="\\"), Lead.mobile.like(pattern, escape="\\"),
                              Lead.company.like(pattern, escape="\\")))
    return rows


def _render(s: Session, rows: list[Lead]) -> list[dict[str, Any]]:
    """The leads as GET /leads shows them, mobiles masked for a member while the corp hides them."""
    masked = masked_corps(s, {r.corp_id for r in rows})
    return [{**out, "mobile": mask_mobile(out["mobile"])} if out["corp_id"] in masked else out
            for out in render(s, rows)]


@bp.get("/pool-leads")
@require(Role.member)
@endpoint("Leads in the default pool (公海): the unassigned ones, oldest first; mobiles masked for members "
          "while the corp hides them", query=PoolLeadFilters, response=Page[LeadOut], description=SCOPE)
def list_pool_leads(query: PoolLeadFilters) -> Any:
    with runtime().Session() as s:
        rows = _rows(s, query)
    return page_rows(rows, _render, query)


@bp.post("/pool-leads/<id:lead_id>/claim")
@require(Role.member)
@endpoint("Claim (领取) a lead of the default pool: the member owns it (it converts, see README) and is told "
          "by app message. 409: they hold the corp's claim limit (customers and open leads together), or "
          "someone took the lead first", body=ClaimBody, response=LeadOut, description=SCOPE)
def claim_lead(lead_id: int, body: ClaimBody) -> Any:
    with runtime().WriteSession.begin() as s:
        lead = pooled_lead(s, lead_id)
        userid = member_userid(body.userid, "claims")
        check_member(s, lead.corp_id, userid)
        if not sees(s, default_pool(s, lead.corp_id), userid):
            raise ApiError(404, "not_found", f"no lead {lead_id} in a pool {userid} sees")
        check_claim_limit(s, lead.corp_id, userid)
        # one conditional UPDATE: of two claims at once one wins, the other is a 409
        taken = s.execute(update(Lead).where(Lead.id == lead.id, Lead.owner_userid.is_(None))
                          .values(owner_userid=userid).execution_options(synchronize_session=False))
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(409, "conflict", f"lead {lead_id} has just left the pool")
        written = lead_writes.Written()
        lead_writes.assign(s, lead, userid, actor(), written)
        audit(s, "pool.lead_claimed", f"lead:{lead.id}", userid=userid)
        answer = _render(s, [lead])[0]
    enqueue_outbox((o.id, o.queue) for o in written.outbox)
    return jsonify(answer)
