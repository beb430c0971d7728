"""The profile page's JSON routes: tag the customer (mark_tag through the outbox), add a follow-up record,
the next page of the timeline, edit custom fields, and return the customer to the public pool (退回公海).
Writes go through the admin API's own functions (web/api_tags.py `mark_customer_tags`, web/api_follow_ups.py
`add_follow_up`, web/api_customers.py `set_fields`, web/api_pool_customers.py `give_back`) with the signed-in
member as `g.principal`, so the rules, the scope, the outbox and the audit log are the same whichever door a
change comes in by.

These routes are the pages' private API, not the integrators' one: they are left out of the admin OpenAPI
document (/api/v1 only), which describes bearer-token operations; here a session cookie and a CSRF header
authenticate, which a generated client could not hold anyway."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify
from pydantic import Field

from models.followup import FOLLOW_UP_MAX_CHARS
from web.api_customers import _customer, _zone, _zones, set_fields
from web.api_follow_ups import add_follow_up
from web.api_pool_customers import give_back
from web.api_tags import mark_customer_tags
from web.endpoint import endpoint
from web.schemas.common import Body, Id, Items, Out, Query
from web.schemas.customers import FieldValues
from web.schemas.pools import MovedOut, ReturnBody
from web.schemas.sales import FollowUpBody, FollowUpOut, Text
from web.schemas.tags import Tagged, Tagging
from web.sidebar import session
from web.sidebar.blueprint import bp
from web.sidebar.customer import timeline


class TagChange(Body):
    add: list[Id] = []
    remove: list[Id] = []


class NewFollowUp(Body):
    text: Text = Field(description=f"联系记录, 1 to {FOLLOW_UP_MAX_CHARS} characters")
    type_id: Id | None = None


class TimelineQuery(Query):
    before: Id | None = Field(None, description="the last entry already shown")


class PoolReturn(Body):
    reason_id: Id = Field(description="one of the corp's 退回原因")


class FieldsSaved(Out):
    fields: list[str]


class Entry(Out):
    id: int
    kind: str
    label: str
    text: str
    who: str
    at: str


@bp.post("/api/customers/<id:customer_id>/tags")
@session.api
@endpoint("Add/remove the member's tags on a customer (mark_tag)", body=TagChange, response=Tagged, status=202)
def tag(customer_id: int, body: TagChange) -> Any:
    return jsonify(mark_customer_tags(customer_id, Tagging(userid=None, add=body.add, remove=body.remove))), 202


@bp.post("/api/customers/<id:customer_id>/follow-ups")
@session.api
@endpoint("Add a follow-up record as the member", body=NewFollowUp, response=FollowUpOut, status=201)
def follow_up(customer_id: int, body: NewFollowUp) -> Any:
    body_for_api = {"customer_id": customer_id, "text": body.text, "type_id": body.type_id}
    return jsonify(add_follow_up(FollowUpBody.model_validate(body_for_api))), 201


@bp.get("/api/customers/<id:customer_id>/timeline")
@session.api
@endpoint("The next page of the customer's timeline", query=TimelineQuery, response=Items[Entry])
def more_timeline(customer_id: int, query: TimelineQuery) -> Any:
    with current_app.extensions["scrm"].Session() as s:
        c = _customer(s, customer_id)
        zone = _zones(s).get(c.corp_id) or _zone(None)
        return jsonify({"items": timeline(s, c, zone, query.before)})


@bp.post("/api/customers/<id:customer_id>/fields")
@session.api
@endpoint("Set the customer's custom field values as the member (key → value, null clears; visible fields)",
          body=FieldValues, response=FieldsSaved)
def fields(customer_id: int, body: FieldValues) -> Any:
    with current_app.extensions["scrm"].WriteSession.begin() as s:
        set_fields(s, customer_id, body.model_extra or {})
        return jsonify({"fields": sorted(body.model_extra or {})})


@bp.post("/api/customers/<id:customer_id>/pool")
@session.api
@endpoint("Return the member's own customer to the public pool (退回公海) with a return reason",
          body=PoolReturn, response=MovedOut, status=201)
def return_to_pool(customer_id: int, body: PoolReturn) -> Any:
    with current_app.extensions["scrm"].WriteSession.begin() as s:
        return jsonify(give_back(s, ReturnBody(customer_id=customer_id, reason_id=body.reason_id,
                                                pool_id=None, userid=None))), 201
