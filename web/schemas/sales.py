"""Models of web/api_sales.py: follow-up records (004 §4.1.3), opportunities and their stages (§4.10, 9.9.3).
Amounts are integer cents (no float ever touches money)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints

from models.followup import FOLLOW_UP_MAX_CHARS
from models.sales import StageOutcome
from web.schemas.common import Body, CorpBody, CorpId, Day, Id, Instant, Out, PageQuery, Query

TypeName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=FOLLOW_UP_MAX_CHARS)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
StageName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Cents = Annotated[int, Field(ge=0, le=2**63 - 1, description="amount in cents (¥12.34 is 1234)")]
Percent = Annotated[int, Field(ge=0, le=100, description="win probability, percent")]
Position = Annotated[int, Field(ge=0, le=10_000)]
MAX_MENTIONS = 50


# -- follow-ups ---------------------------------------------------------------------------------------------
SUBJECTS = "customer_id, lead_id, company_id, contact_id or group_chat_id"
ChatId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class FollowUpFilters(Query):
    customer_id: Id | None = Field(None, description="one customer's records (404 if not yours to see)")
    lead_id: Id | None = Field(None, description="one lead's records (404 if not yours to see)")
    company_id: Id | None = Field(None, description="one company's records (404 if not yours to see)")
    contact_id: Id | None = Field(None, description="one contact's records (404 if not yours to see)")
    group_chat_id: str | None = Field(None, max_length=64, description="one customer group's records (its chat_id)")
    userid: str | None = Field(None, max_length=64, description="written by this member")
    type_id: Id | None = Field(None, description="of this follow-up type")
    since: Instant | None = Field(None, description="at or after")
    until: Instant | None = Field(None, description="before")


class FollowUpQuery(PageQuery, FollowUpFilters):
    pass


class FollowUpBody(Body):
    customer_id: Id | None = Field(None, description=f"the subject: exactly one of {SUBJECTS}")
    lead_id: Id | None = None
    company_id: Id | None = None
    contact_id: Id | None = None
    group_chat_id: ChatId | None = Field(None, description="a customer group's WeCom chat_id, in corp_id's corp")
    corp_id: CorpId | None = Field(None, description="the group's corp (a token limited to a corp needs none); the "
                                                     "other subjects carry theirs")
    text: Text = Field(description=f"联系记录, 1 to {FOLLOW_UP_MAX_CHARS} characters")
    at: Instant | None = Field(None, description="when the contact happened (default: now)")
    userid: Userid | None = Field(None, description="who followed up: a member token's own (default), an "
                                                    "admin token must name one")
    type_id: Id | None = Field(None, description="one of the corp's follow-up types (default: its first, 笔记)")
    attachment_id: Id | None = Field(None, description="a file the caller uploaded (POST /follow-ups/attachments) "
                                                       "and has not attached yet; or material_id, not both")
    material_id: Id | None = Field(None, description="a material of the corp's library as the attachment")
    mention: list[Userid] = Field([], max_length=MAX_MENTIONS,
                                  description="@colleagues (the corp's userids), told at once by app message")
    remind_at: Instant | None = Field(None, description="a reminder to the writer by app message at this time "
                                                        "(in the future)")


class AttachmentOut(Out):
    id: int
    corp_id: str
    follow_up_id: int | None = Field(description="None until a follow-up names it")
    material_id: int | None
    filename: str
    content_type: str
    size: int = Field(description="bytes")
    download: str | None = Field(description="where those who may see the follow-up download the file")


class FollowUpOut(Out):
    id: int
    corp_id: str
    customer_id: int | None
    lead_id: int | None
    company_id: int | None
    contact_id: int | None
    group_chat_id: str | None
    userid: str
    text: str
    at: dt.datetime
    via: str = Field(description="bot, api or sidebar")
    type_id: int | None
    type: str = Field(description="the type's name")
    attachment: AttachmentOut | None = None
    mention: list[str] = Field([], description="who was @mentioned")
    remind_at: dt.datetime | None = Field(None, description="the timed reminder's time")


class FollowUpTypeBody(CorpBody):
    name: TypeName


class FollowUpTypeOut(Out):
    id: int
    corp_id: str
    name: str
    position: int


# -- stages -------------------------------------------------------------------------------------------------
class StageBody(CorpBody):
    name: StageName
    probability: Percent = 0
    position: Position | None = Field(None, description="place among the open stages (default: last)")


class StageChangeBody(Body):
    name: StageName | None = None
    probability: Percent | None = None
    position: Position | None = None


class StageOut(Out):
    id: int
    corp_id: str
    name: str
    position: int
    probability: int
    outcome: StageOutcome


# -- opportunities ------------------------------------------------------------------------------------------
class OpportunityFilters(Query):
    customer_id: Id | None = Field(None, description="one customer's deals (404 if not yours to see)")
    stage_id: Id | None = None
    owner: str | None = Field(None, max_length=64, description="owner's userid")


class OpportunityQuery(PageQuery, OpportunityFilters):
    pass


class OpportunityBody(Body):
    customer_id: Id
    name: Name
    stage_id: Id
    amount_cents: Cents
    expected_close: Day
    owner: Userid | None = Field(None, description="owner's userid (default: the caller, or the customer's owner)")
    pinned: bool = False


class OpportunityEdit(Body):
    name: Name | None = None
    amount_cents: Cents | None = None
    expected_close: Day | None = None
    owner: Userid | None = None
    pinned: bool | None = None


class MoveBody(Body):
    stage_id: Id
    lost_reason_id: Id | None = Field(None, description="required for the lost stage: one of the corp's lost "
                                                        "reasons (GET /lost-reasons); ignored otherwise")


class StageChangeOut(Out):
    from_stage_id: int | None
    to_stage_id: int
    userid: str | None
    actor: str
    at: dt.datetime


class OpportunityOut(Out):
    id: int
    corp_id: str
    customer_id: int
    name: str
    stage_id: int
    amount_cents: int
    expected_close: dt.date
    owner: str
    pinned: bool
    lost_reason_id: int | None = Field(description="while lost: the reason from the corp's list")
    lost_reason: str = Field(description="that reason's name (empty when none)")
    created_by: str
    created_at: dt.datetime | None


class OpportunityDetail(OpportunityOut):
    history: list[StageChangeOut] = Field(description="stage changes, oldest first")
