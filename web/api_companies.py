"""Companies (企业, 004 §4.9; 公司, 000 part 5) over the admin API: list with the manual's filters, detail with
the related customers, contacts and follow-ups, create, edit, copy (a draft; nothing is saved until it is
POSTed), the customers that belong to a company, and the soft delete only a super_admin may do. Scope:
web/org_scope.py. Every write is in the audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from models import Company, Contact, Customer, FollowUp, Industry, Role
from web import errors
from web.api import _like, page_rows
from web.api_customers import _scoped
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.org_scope import companies, contacts, visible
from web.org_writes import (apply_edits, created_between, new_row, owner_of, recent_follow_ups, save_new,
                             soft_delete)
from web.sales_scope import runtime, visible_customer
from web.schemas.common import Deleted, Page
from web.schemas.orgs import (CompanyBody, CompanyDetail, CompanyDraft, CompanyEdit, CompanyFields, CompanyOut,
                              CompanyQuery, CustomerIds)

bp = Blueprint("api_companies", __name__, url_prefix="/api/v1")
errors.register(bp)

RELATED_LIMIT = 100
SCOPE = ("A member sees and writes the companies they own (负责人) or that have a customer they follow; any "
         "other is a 404.")


def _render(s: Session, rows: list[Company]) -> list[dict[str, Any]]:
    """A page of companies with their industries' names and customer counts (two queries for the page)."""
    ids = [c.id for c in rows]
    industry_ids = {c.industry_id for c in rows if c.industry_id is not None}
    names: dict[int | None, str] = dict(s.execute(select(Industry.id, Industry.name).where(
        Industry.id.in_(industry_ids))).all()) if industry_ids else {}
    counts: dict[int | None, int] = dict(s.execute(select(Customer.company_id, func.count()).where(
        Customer.company_id.in_(ids), Customer.deleted_at.is_(None)).group_by(Customer.company_id)).all())
    return [{"id": c.id, "corp_id": c.corp_id, "name": c.name, "short_name": c.short_name, "phone": c.phone,
             "website": c.website, "province": c.province, "city": c.city, "address": c.address,
             "industry_id": c.industry_id, "industry": names.get(c.industry_id, ""), "size": c.size or None,
             "level": c.level, "source": c.source, "type": c.type, "deal": c.deal, "owner": c.owner_userid,
             "customer_count": counts.get(c.id, 0), "created_by": c.created_by, "created_at": c.created_at.isoformat(),
             "updated_at": c.updated_at.isoformat()} for c in rows]


def _detail(s: Session, c: Company) -> dict[str, Any]:
    customers = s.execute(_scoped().with_only_columns(Customer.id, Customer.name)
                          .where(Customer.company_id == c.id).limit(RELATED_LIMIT)).all()
    people = s.scalars(contacts().where(Contact.company_id == c.id).limit(RELATED_LIMIT))
    return _render(s, [c])[0] | {
        "customers": [{"id": i, "name": n} for i, n in customers],
        "contacts": [{"id": p.id, "name": p.name, "mobile": p.mobile, "position": p.position} for p in people],
        "follow_ups": recent_follow_ups(s, FollowUp.company_id, c.id)}


def _company(s: Session, company_id: int) -> Company:
    row: Company = visible(s, companies(), Company, company_id, "company")
    return row


def _check_industry(s: Session, corp_id: str, industry_id: int | None) -> None:
    if industry_id is None:
        return
    industry = s.get(Industry, industry_id)
    if industry is None or industry.corp_id != corp_id:
        raise ApiError(422, "invalid", f"industry_id: no industry {industry_id} in this corp",
                       {"industry_id": "unknown industry"})


@bp.get("/companies")
@require(Role.member)
@endpoint("Companies (企业) the caller may see, newest first", query=CompanyQuery, response=Page[CompanyOut],
          description=SCOPE)
def list_companies(query: CompanyQuery) -> Any:
    rows = companies()
    if query.keyword:
        like = _like(query.keyword)
        rows = rows.where(or_(Company.name.like(like, escape="\\"), Company.short_name.like(like, escape="\\"),
                              Company.address.like(like, escape="\\")))
    for value, column in ((query.industry_id, Company.industry_id), (query.level, Company.level),
                          (query.owner, Company.owner_userid), (query.deal, Company.deal)):
        if value is not None:
            rows = rows.where(column == value)
    rows = created_between(rows, Company, query.created_from, query.created_to)
    return page_rows(rows, _render, query)


@bp.get("/companies/<id:company_id>")
@require(Role.member)
@endpoint("One company with its customers and contacts the caller may see and its latest follow-ups",
          response=CompanyDetail, description=SCOPE)
def get_company(company_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_detail(s, _company(s, company_id)))


@bp.post("/companies")
@require(Role.member)
@endpoint("Create a company (a member's is their own)", body=CompanyBody, response=CompanyDetail, status=201,
          description=SCOPE)
def create_company(body: CompanyBody) -> Any:
    with runtime().WriteSession.begin() as s:
        row = new_row(s, Company, body)
        _check_industry(s, row.corp_id, row.industry_id)
        save_new(s, row, "company")
        return jsonify(_detail(s, row)), 201


@bp.patch("/companies/<id:company_id>")
@require(Role.member)
@endpoint("Change a company (a field left out stays, null clears it)", body=CompanyEdit, response=CompanyDetail,
          description=SCOPE)
def update_company(company_id: int, body: CompanyEdit) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _company(s, company_id)
        apply_edits(s, row, body, "company",
                    lambda changes: _check_industry(s, row.corp_id, changes.get("industry_id")))
        return jsonify(_detail(s, row))


@bp.post("/companies/<id:company_id>/copy")
@require(Role.member)
@endpoint("A new company's form pre-filled from this one (复制, 000 §5.5): nothing is saved until the draft is "
          "POSTed to /companies", response=CompanyDraft, description=SCOPE)
def copy_company(company_id: int) -> Any:
    with runtime().Session() as s:
        row = _company(s, company_id)
        draft = {name: getattr(row, name) for name in CompanyFields.model_fields if name not in ("owner", "size")}
        return jsonify(draft | {"corp_id": row.corp_id, "size": row.size or None,
                                "owner": owner_of(None, "companies") or row.owner_userid})


@bp.post("/companies/<id:company_id>/customers")
@require(Role.member)
@endpoint("Make customers the caller may see belong to this company (a customer belongs to one company: it "
          "leaves its former one)", body=CustomerIds, response=CompanyDetail, description=SCOPE)
def add_customers(company_id: int, body: CustomerIds) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _company(s, company_id)
        for customer_id in body.customer_ids:
            customer = visible_customer(s, customer_id)
            if customer.corp_id != row.corp_id:
                raise ApiError(422, "invalid", f"customer_ids: customer {customer_id} is in another corp",
                               {"customer_ids": "another corp's customer"})
            customer.company_id = row.id
        audit(s, "company.customers", f"company:{row.id}", added=body.customer_ids)
        s.flush()
        return jsonify(_detail(s, row))


@bp.delete("/companies/<id:company_id>/customers/<id:customer_id>")
@require(Role.member)
@endpoint("Take a customer out of this company", response=CompanyDetail, description=SCOPE)
def remove_customer(company_id: int, customer_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _company(s, company_id)
        customer = visible_customer(s, customer_id)
        if customer.company_id != row.id:
            raise ApiError(404, "not_found", f"customer {customer_id} is not in company {company_id}")
        customer.company_id = None
        audit(s, "company.customers", f"company:{row.id}", removed=[customer_id])
        s.flush()
        return jsonify(_detail(s, row))


@bp.delete("/companies/<id:company_id>")
@require(Role.super_admin)
@endpoint("Delete a company (super_admin only, 000 §5.6): it is hidden from every list and lookup, and its "
          "customers and contacts no longer name it", response=Deleted)
def delete_company(company_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _company(s, company_id)
        customers = s.execute(update(Customer).where(Customer.company_id == row.id).values(company_id=None)).rowcount
        people = s.execute(update(Contact).where(Contact.company_id == row.id).values(company_id=None)).rowcount
        soft_delete(s, row, "company", customers_unlinked=customers, contacts_unlinked=people)
        return jsonify({"id": company_id, "deleted": True})
