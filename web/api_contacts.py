"""Contacts (联系人, 000 part 6) over the admin API: list, detail with follow-ups, create, edit, copy (a draft;
nothing is saved until it is POSTed) and the soft delete only a super_admin may do. A contact may work at a
company and may be one WeCom customer (one contact per customer). Scope: web/org_scope.py. Every write is in
the audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import Company, Contact, FollowUp, Role
from web import errors
from web.api import _like, page_rows
from web.auth import require
from web.endpoint import endpoint
from web.errors import ApiError
from web.org_scope import companies, contacts, visible
from web.org_writes import (apply_edits, created_between, new_row, owner_of, recent_follow_ups, save_new,
                             soft_delete)
from web.sales_scope import runtime, visible_customer
from web.schemas.common import Deleted, Page
from web.schemas.orgs import ContactBody, ContactDetail, ContactDraft, ContactEdit, ContactOut, ContactQuery

bp = Blueprint("api_contacts", __name__, url_prefix="/api/v1")
errors.register(bp)

SCOPE = ("A member sees and writes the contacts they own (负责人), the contacts of the companies they see "
         "(their own or with a customer they follow) and the contacts linked to a customer they follow; any "
         "other is a 404.")


def _render(s: Session, rows: list[Contact]) -> list[dict[str, Any]]:
    """A page of contacts with their companies' names (one query for the page)."""
    company_ids = {c.company_id for c in rows if c.company_id is not None}
    names: dict[int | None, str] = dict(s.execute(select(Company.id, Company.name).where(
        Company.id.in_(company_ids))).all()) if company_ids else {}
    return [{"id": c.id, "corp_id": c.corp_id, "name": c.name, "mobile": c.mobile, "position": c.position,
             "company_id": c.company_id, "company": names.get(c.company_id, ""), "customer_id": c.customer_id,
             "owner": c.owner_userid, "created_by": c.created_by, "created_at": c.created_at.isoformat(),
             "updated_at": c.updated_at.isoformat()} for c in rows]


def _detail(s: Session, c: Contact) -> dict[str, Any]:
    return _render(s, [c])[0] | {"follow_ups": recent_follow_ups(s, FollowUp.contact_id, c.id)}


def _contact(s: Session, contact_id: int) -> Contact:
    row: Contact = visible(s, contacts(), Contact, contact_id, "contact")
    return row


def _check_links(s: Session, row: Contact, changes: dict[str, Any]) -> None:
    """A company and a customer the caller may see (else 404), in the contact's corp (else 422); a customer
    another contact already is is a 409."""
    if changes.get("company_id") is not None:
        company = visible(s, companies(), Company, changes["company_id"], "company")
        if company.corp_id != row.corp_id:
            raise ApiError(422, "invalid", "company_id: a company of another corp", {"company_id": "another corp"})
    customer_id = changes.get("customer_id")
    if customer_id is not None:
        if visible_customer(s, customer_id).corp_id != row.corp_id:
            raise ApiError(422, "invalid", "customer_id: a customer of another corp", {"customer_id": "another corp"})
        taken = s.scalar(select(Contact.id).where(Contact.customer_id == customer_id, Contact.id != row.id))
        if taken is not None:
            raise ApiError(409, "conflict", f"customer {customer_id} is already contact {taken}",
                           {"customer_id": "taken"})


@bp.get("/contacts")
@require(Role.member)
@endpoint("Contacts (联系人) the caller may see, newest first", query=ContactQuery, response=Page[ContactOut],
          description=SCOPE)
def list_contacts(query: ContactQuery) -> Any:
    rows = contacts()
    with runtime().Session() as s:  # a company or customer the token may not see is a 404, as by id
        if query.company_id is not None:
            visible(s, companies(), Company, query.company_id, "company")
        if query.customer_id is not None:
            visible_customer(s, query.customer_id)
    if query.keyword:
        like = _like(query.keyword)
        rows = rows.where(or_(Contact.name.like(like, escape="\\"), Contact.mobile.like(like, escape="\\"),
                              Contact.position.like(like, escape="\\")))
    for value, column in ((query.company_id, Contact.company_id), (query.customer_id, Contact.customer_id),
                          (query.owner, Contact.owner_userid)):
        if value is not None:
            rows = rows.where(column == value)
    rows = created_between(rows, Contact, query.created_from, query.created_to)
    return page_rows(rows, _render, query)


@bp.get("/contacts/<id:contact_id>")
@require(Role.member)
@endpoint("One contact with its latest follow-ups", response=ContactDetail, description=SCOPE)
def get_contact(contact_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_detail(s, _contact(s, contact_id)))


@bp.post("/contacts")
@require(Role.member)
@endpoint("Create a contact (a member's is their own)", body=ContactBody, response=ContactDetail, status=201,
          description=SCOPE)
def create_contact(body: ContactBody) -> Any:
    with runtime().WriteSession.begin() as s:
        row = new_row(s, Contact, body)
        _check_links(s, row, {"company_id": row.company_id, "customer_id": row.customer_id})
        save_new(s, row, "contact", company_id=row.company_id, customer_id=row.customer_id)
        return jsonify(_detail(s, row)), 201


@bp.patch("/contacts/<id:contact_id>")
@require(Role.member)
@endpoint("Change a contact (a field left out stays, null clears it)", body=ContactEdit, response=ContactDetail,
          description=SCOPE)
def update_contact(contact_id: int, body: ContactEdit) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _contact(s, contact_id)
        apply_edits(s, row, body, "contact", lambda changes: _check_links(s, row, changes))
        return jsonify(_detail(s, row))


@bp.post("/contacts/<id:contact_id>/copy")
@require(Role.member)
@endpoint("A new contact's form pre-filled from this one (复制, 000 §6.5), without its customer (a customer is "
          "one contact): nothing is saved until the draft is POSTed to /contacts", response=ContactDraft,
          description=SCOPE)
def copy_contact(contact_id: int) -> Any:
    with runtime().Session() as s:
        row = _contact(s, contact_id)
        return jsonify({"corp_id": row.corp_id, "name": row.name, "mobile": row.mobile, "position": row.position,
                        "company_id": row.company_id, "customer_id": None,
                        "owner": owner_of(None, "contacts") or row.owner_userid})


@bp.delete("/contacts/<id:contact_id>")
@require(Role.super_admin)
@endpoint("Delete a contact (super_admin only, 000 §6.6): it is hidden from every list and lookup and lets go "
          "of its customer", response=Deleted)
def delete_contact(contact_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _contact(s, contact_id)
        customer_id, row.customer_id = row.customer_id, None
        soft_delete(s, row, "contact", customer_id=customer_id)
        return jsonify({"id": contact_id, "deleted": True})
