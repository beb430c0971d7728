"""Conversation search (manual 004 §7.1, 002 §3.5.3): the stored messages of every door (kf, app), by
customer, staff member, kf account, kf session, time and text, newest first.

A member sees the conversations of the members in their data scope (web/access.py `visible_userids`; the
basic role: their own): messages they wrote, messages of the kf sessions they received, and messages with
the customers they follow or own (跟进人, e.g. claimed from the public pool); a token limited to a corp sees
that corp's only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g
from sqlalchemy import Select, or_, select

from models import Customer, KfSession, Message, Role
from models.customer import followed_or_owned_by
from web import errors
from web.access import visible_userids
from web.api import _like, page, time_filter
from web.api_kf import _scoped
from web.auth import require
from web.endpoint import MAX_ID, endpoint
from web.schemas.common import Page
from web.schemas.messages import MessageOut, MessageQuery

bp = Blueprint("api_messages", __name__, url_prefix="/api/v1")
errors.register(bp)


def _own(query: Select, corp_id: str, userids: set[str]) -> Select:
    """The messages of the members `userids` (a member's data scope); a userid means that member only within
    their corp (userids repeat across corps). Their customers are the customers list's (followed or owned:
    models/customer.py `followed_or_owned_by`), so a customer claimed from the pool brings its conversations."""
    theirs = select(Customer.external_userid).where(Customer.corp_id == corp_id, followed_or_owned_by(userids))
    served = select(KfSession.id).where(KfSession.corp_id == corp_id, KfSession.servicer_userid.in_(userids))
    return query.where(or_(Message.userid.in_(userids), Message.external_userid.in_(theirs),
                           Message.session_pk.in_(served)))


@bp.get("/messages")
@require(Role.member)
@endpoint("Search conversation messages (members: their own and their customers')", query=MessageQuery,
          response=Page[MessageOut])
def search_messages(query: MessageQuery) -> Any:
    rows = _scoped(select(Message), Message.corp_id)
    seen = visible_userids()
    if seen is not None:
        rows = _own(rows, g.principal.corp_id, seen)
    customer = (query.customer or "").strip()
    if customer:
        if customer.isascii() and customer.isdigit() and int(customer) <= MAX_ID:  # a customer id, as listed
            customer_row = _scoped(select(Customer.external_userid), Customer.corp_id).where(
                Customer.id == int(customer))
            rows = rows.where(Message.external_userid.in_(customer_row))
        else:
            rows = rows.where(Message.external_userid == customer)
    staff = (query.staff or "").strip()
    if staff:
        rows = rows.where(or_(Message.userid == staff, Message.session_pk.in_(
            select(KfSession.id).where(KfSession.servicer_userid == staff))))
    if query.open_kfid:
        rows = rows.where(Message.open_kfid == query.open_kfid)
    if query.session:
        rows = rows.where(Message.session_pk.in_(select(KfSession.id).where(KfSession.session_id == query.session)))
    if query.source:
        rows = rows.where(Message.source == query.source)
    rows = time_filter(rows, Message.send_time, query)
    text = (query.q or "").strip()
    if text:
        rows = rows.where(Message.content.like(_like(text), escape="\\"))
    return page(rows.order_by(Message.send_time.desc(), Message.id.desc()), Message.public, query)
