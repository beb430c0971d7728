"""What a token may see and write of companies, contacts, leads and the follow-ups on them: the customers
API's member scope (web/api_customers.py `_scoped`) carried over.

A member sees and writes, "they" being anyone in their data scope (web/access.py `visible_userids`; the
basic role: the member alone):
- the companies they own (负责人) or that have a customer they follow;
- the contacts they own, the contacts of those companies, and the contacts linked to a customer they follow;
- the leads they own;
- follow-ups on any of those, on a customer they follow, or on a customer group they may see
  (web/group_scope.py: one they own or are or were in).
Anything else is absent: 404 by id, missing from a list, a 404 when named as a filter. Soft-deleted
companies and contacts are absent for every role. A corp-bound token sees its corp only.
"""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from models import Company, Contact, Customer, CustomerGroup, FollowUp, Lead
from web.access import visible_userids
from web.api_customers import _scoped
from web.errors import ApiError
from web.group_scope import group_rows

__all__ = ["companies", "contacts", "follow_up_rows", "leads", "visible"]


def _followed_customers(column: Any) -> Select:
    """`column` of the customers this token may see (a member: those they follow)."""
    return _scoped().with_only_columns(column).order_by(None)


def _corp(query: Select, model: Any) -> Select:
    corp_id = g.principal.corp_id
    return query.where(model.corp_id == corp_id) if corp_id else query


def companies() -> Select:
    """Live companies this token may see, newest first."""
    query = _corp(select(Company).where(Company.deleted_at.is_(None)), Company).order_by(Company.id.desc())
    seen = visible_userids()
    if seen is not None:
        query = query.where(or_(Company.owner_userid.in_(seen),
                                Company.id.in_(_followed_customers(Customer.company_id))))
    return query


def contacts() -> Select:
    """Live contacts this token may see, newest first."""
    query = _corp(select(Contact).where(Contact.deleted_at.is_(None)), Contact).order_by(Contact.id.desc())
    seen = visible_userids()
    if seen is not None:
        query = query.where(or_(Contact.owner_userid.in_(seen),
                                Contact.company_id.in_(companies().with_only_columns(Company.id).order_by(None)),
                                Contact.customer_id.in_(_followed_customers(Customer.id))))
    return query


def leads() -> Select:
    """Leads this token may see: those owned by someone in a member's data scope."""
    query = _corp(select(Lead), Lead)
    seen = visible_userids()
    return query if seen is None else query.where(Lead.owner_userid.in_(seen))


def _ids(query: Select, model: Any) -> Select:
    return query.with_only_columns(model.id).order_by(None)


def follow_up_rows() -> Select:
    """Follow-ups on any subject this token may see."""
    groups = group_rows().with_only_columns(CustomerGroup.id).order_by(None).where(
        CustomerGroup.corp_id == FollowUp.corp_id, CustomerGroup.chat_id == FollowUp.group_chat_id).exists()
    return select(FollowUp).where(or_(FollowUp.customer_id.in_(_followed_customers(Customer.id)),
                                      FollowUp.lead_id.in_(_ids(leads(), Lead)),
                                      FollowUp.company_id.in_(_ids(companies(), Company)),
                                      FollowUp.contact_id.in_(_ids(contacts(), Contact)), groups))


def visible(s: Session, query: Select, model: Any, pk: int, what: str) -> Any:
    """Row `pk` of `query` (a scope above), else a 404 naming `what`."""
    row = s.scalar(query.where(model.id == pk))
    if row is None:
        raise ApiError(404, "not_found", f"no {what} {pk}")
    return row
