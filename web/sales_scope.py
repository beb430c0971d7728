"""What the sales API (web/api_follow_ups.py, web/api_opportunities.py) may show and write: the customers
API's member scope (web/api_customers.py `_scoped`) carried over to the rows hanging off a customer. A
member sees and writes the records of the customers they follow or own (跟进人); a record of any other
customer is absent (404), by id and as a filter; a corp-bound token sees its corp."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from jobs.runtime import Runtime
from models import Customer
from web.access import acting_userids
from web.api_customers import _customer, _scoped
from web.errors import ApiError

__all__ = ["act_for", "actor", "customer_rows", "member_userid", "members_in_scope", "runtime", "visible_customer",
           "visible_row"]

visible_customer = _customer  # a customer this token may see, else 404


def runtime() -> Runtime:
    return current_app.extensions["scrm"]


def actor() -> str:
    return str(g.principal.actor)


def customer_rows(model: Any, customer_id: int | None) -> Select:
    """Rows of `model` on the customers this token may see; on that one customer with `customer_id` (a
    customer the token may not see is a 404, as it is by id)."""
    rows = select(model).where(model.customer_id.in_(_scoped().with_only_columns(Customer.id).order_by(None)))
    if customer_id is not None:
        with runtime().Session() as s:
            _customer(s, customer_id)
        rows = rows.where(model.customer_id == customer_id)
    return rows


def visible_row(s: Session, model: Any, pk: int, what: str) -> Any:
    """Row `pk` of `model` if it is on a customer this token may see, else a 404 naming `what`."""
    row = s.scalar(customer_rows(model, None).where(model.id == pk))
    if row is None:
        raise ApiError(404, "not_found", f"no {what} {pk}")
    return row


def member_userid(given: str | None, what: str) -> str:
    """The userid a write is for: a member's own (naming another is a 403), else the one the body names."""
    principal = g.principal
    if principal.is_member:
        if given not in (None, principal.userid):
            raise ApiError(403, "forbidden", f"a member token writes its own {what}")
        return str(principal.userid)
    if given is None:
        raise ApiError(422, "invalid", "userid: required for a token without a member", {"userid": "required"})
    return given


def members_in_scope(s: Session, corp_id: str) -> set[str] | None:
    """The userids of `corp_id` this token reads and writes a member's own records for; None: every member
    (an admin or super_admin token, or a role with data scope `all`): web/access.py `acting_userids`."""
    return acting_userids(s, corp_id)


def act_for(s: Session, corp_id: str, given: str | None, what: str) -> str:
    """The userid a write of `what` is for: the one `given` if this token may act for them (else 403),
    a member token's own when none is given (an admin token must name one: 422)."""
    principal = g.principal
    if given is None:
        if principal.is_member:
            return str(principal.userid)
        raise ApiError(422, "invalid", "userid: required for a token without a member", {"userid": "required"})
    scope = members_in_scope(s, corp_id)
    if scope is not None and given not in scope:
        raise ApiError(403, "forbidden", f"a member token writes its own {what} and those of the members in its "
                                         "data scope or of the departments it leads")
    return given
