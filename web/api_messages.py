"""Conversation search (manual 004 §7.1, 002 §3.5.3): the stored messages of every door (kf, app), by
customer, staff member, kf account, kf session, time and text, newest first.

A member sees the conversations that are theirs: messages they wrote, messages of the kf sessions they
received, and messages with the customers they follow; a token limited to a corp sees that corp's only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request
from sqlalchemy import Select, or_, select

from models import Customer, FollowRelation, KfSession, Message, Role
from models.conversation import MessageSource
from web import errors
from web.api import _enum_filter, _like, _page, _time_filter
from web.api_kf import _scoped
from web.auth import require
from web.errors import ApiError

bp = Blueprint("api_messages", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_QUERY_CHARS = 100


def _own(query: Select, corp_id: str, userid: str) -> Select:
    """A member's messages; `userid` means that member only within their corp (userids repeat across corps)."""
    followed = select(Customer.external_userid).where(
        Customer.corp_id == corp_id, Customer.follows.any(FollowRelation.userid == userid))
    served = select(KfSession.id).where(KfSession.corp_id == corp_id, KfSession.servicer_userid == userid)
    return query.where(or_(Message.userid == userid, Message.external_userid.in_(followed),
                           Message.session_pk.in_(served)))


@bp.get("/messages")
@require(Role.member)
def search_messages() -> Any:
    args = request.args
    query = _scoped(select(Message), Message.corp_id)
    if g.principal.is_member:
        query = _own(query, g.principal.corp_id, g.principal.userid)
    customer = args.get("customer", "").strip()
    if customer:
        if customer.isascii() and customer.isdigit():  # a customer id, as the customer list shows it
            customer_row = _scoped(select(Customer.external_userid), Customer.corp_id).where(
                Customer.id == int(customer))
            query = query.where(Message.external_userid.in_(customer_row))
        else:
            query = query.where(Message.external_userid == customer)
    staff = args.get("staff", "").strip()
    if staff:
        query = query.where(or_(Message.userid == staff, Message.session_pk.in_(
            select(KfSession.id).where(KfSession.servicer_userid == staff))))
    if args.get("open_kfid"):
        query = query.where(Message.open_kfid == args["open_kfid"])
    if args.get("session"):
        query = query.where(Message.session_pk.in_(select(KfSession.id).where(KfSession.session_id == args["session"])))
    query = _enum_filter(query, "source", Message.source, MessageSource)
    query = _time_filter(query, Message.send_time)
    text = args.get("q", "").strip()
    if len(text) > MAX_QUERY_CHARS:
        raise ApiError(400, "bad_request", f"q is at most {MAX_QUERY_CHARS} characters")
    if text:
        query = query.where(Message.content.like(_like(text), escape="\\"))
    return _page(query.order_by(Message.send_time.desc(), Message.id.desc()), Message.public)
