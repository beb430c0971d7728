"""Models of web/api_leads.py and web/api_lead_rules.py: leads (线索, 004 §4.7), their assignment and
history, assignment rules (9.9.2), the web sites that push leads (002 §3.7-3.8) and the import."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from models.lead import LeadStatus
from models.lead_rules import Spread
from web.schemas.common import Body, CorpBody, Id, Instant, Out, PageQuery, Query

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]
Mobile = Annotated[str, StringConstraints(max_length=32)]
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MAX_BATCH = 1000

LEAD_TEXT = {"mobile": "6 to 20 digits (spaces, dashes and a leading + are dropped)",
             "gender": "male, female, 男, 女 or empty"}


class LeadFilters(Query):
    keyword: str | None = Field(None, max_length=64, description="in the name, mobile or company")
    owner: str | None = Field(None, max_length=64, description="owned by this member (跟进人)")
    creator: str | None = Field(None, max_length=96, description="made by (创建人)")
    source: str | None = Field(None, max_length=64, description="source channel (来源渠道)")
    status: LeadStatus | None = None
    tag: list[Id] | None = Field(None, description="holding any of these tags (repeat the parameter)")
    customer_id: Id | None = Field(None, description="the leads converted into this customer (the link's other way)")
    unassigned: bool | None = Field(None, description="true: no owner (the pool's leads); false: owned")
    needs_manual: bool | None = Field(None, description="true: no assignment rule matched (待人工分配)")
    created_since: Instant | None = None
    created_until: Instant | None = None
    followed_since: Instant | None = Field(None, description="last followed up at or after")
    followed_until: Instant | None = Field(None, description="last followed up before")
    not_followed_days: int | None = Field(None, ge=0, le=36500,
                                          description="not followed up for at least this many days (never: counted "
                                                      "from creation)")


class LeadQuery(PageQuery, LeadFilters):
    discarded: bool = Field(False, description="true: the discarded list (废弃线索)")


class LeadBody(CorpBody):
    name: Name = Field(description="姓名, required")
    mobile: Mobile = Field("", description=LEAD_TEXT["mobile"])
    gender: str = Field("", max_length=8, description=LEAD_TEXT["gender"])
    company: Long = ""
    position: Short = ""
    source: Short = Field("", description="source channel (来源渠道)")
    tags: list[Id] = Field([], max_length=100, description="the corp's customer tags (ids from GET /tags)")
    fields: dict[str, Any] = Field({}, description="custom field key → value (the corp's lead fields)")
    owner: Userid | None = Field(None, description="assign at once to this member (default: the rules)")


class LeadEdit(Body):
    name: Name | None = None
    mobile: Mobile | None = None
    gender: str | None = Field(None, max_length=8)
    company: Long | None = None
    position: Short | None = None
    source: Short | None = None
    fields: dict[str, Any] | None = Field(None, description="key → value; null clears one; keys left out stay")


class LeadOut(Out):
    id: int
    corp_id: str
    name: str
    mobile: str
    gender: str
    company: str
    position: str
    source: str
    status: LeadStatus
    owner: str | None
    creator: str
    tags: list[int]
    fields: dict[str, Any]
    needs_manual: bool = Field(description="no rule matched: waiting to be assigned by hand")
    customer_id: int | None = Field(description="the customer it became (线索转化), once linked")
    last_followed_at: dt.datetime | None
    days_without_follow_up: int = Field(description="whole days since the last follow-up (never: since creation)")
    assigned_at: dt.datetime | None
    discarded_at: dt.datetime | None
    created_at: dt.datetime | None


class TagChange(CorpBody):
    lead_ids: list[Id] = Field(min_length=1, max_length=MAX_BATCH)
    add: list[Id] = Field([], max_length=100)
    remove: list[Id] = Field([], max_length=100)


class Batch(Out):
    changed: int


class AssignBody(Body):
    lead_ids: list[Id] = Field(min_length=1, max_length=MAX_BATCH)
    userids: list[Userid] = Field([], max_length=1000, description="members to spread the leads over")
    departments: list[Id] = Field([], max_length=100, description="departments whose members (and their "
                                                                  "sub-departments') take the leads")
    spread: Literal["round_robin", "even"] = Field("round_robin", description="round_robin: in turn; even: to "
                                                                              "whoever holds fewest open leads")


class Assigned(Out):
    lead_id: int
    owner: str


class AssignOut(Out):
    items: list[Assigned]


class LinkBody(Body):
    customer_id: Id


class ChangeOut(Out):
    field: str
    old: str
    new: str
    actor: str
    at: dt.datetime


# -- rules --------------------------------------------------------------------------------------------------
class RuleBody(CorpBody):
    name: Short = Field(min_length=1)
    conditions: dict[str, Any] = Field({}, description="a group {match: all|any, conditions: [condition or "
                                                       "group]}, two levels at most; a condition is {field, op, "
                                                       "value}, op one of eq, neq, contains, in, empty, not_empty")
    spread: Spread = Spread.round_robin
    targets: list[Userid] = Field(min_length=1, max_length=1000)
    position: int | None = Field(None, ge=0, le=10_000, description="place among the rules (default: last)")
    enabled: bool = True


class RuleEdit(Body):
    name: Short | None = Field(None, min_length=1)
    conditions: dict[str, Any] | None = None
    spread: Spread | None = None
    targets: list[Userid] | None = Field(None, min_length=1, max_length=1000)
    position: int | None = Field(None, ge=0, le=10_000)
    enabled: bool | None = None


class RuleOut(Out):
    id: int
    corp_id: str
    name: str
    position: int
    conditions: dict[str, Any]
    spread: Spread
    targets: list[str]
    turn: int
    enabled: bool


# -- sources and the inbound webhook -------------------------------------------------------------------------
class SourceBody(CorpBody):
    name: Short = Field(min_length=1, description="the web site, also the source channel of its leads")


class SourceOut(Out):
    id: int
    corp_id: str
    name: str
    created_at: dt.datetime | None


class SourceMade(SourceOut):
    secret: str = Field(description="the HMAC key: shown this once only")


class InboundBody(Body):
    name: Name
    mobile: Mobile = ""
    gender: str = Field("", max_length=8)
    company: Long = ""
    position: Short = ""
    fields: dict[str, Any] = {}


class InboundOut(Out):
    id: int
    status: LeadStatus
    owner: str | None


# -- import ---------------------------------------------------------------------------------------------------
class ImportQuery(Query):
    corp_id: str | None = Field(None, max_length=64)
    format: Literal["csv", "xlsx"] = "csv"
