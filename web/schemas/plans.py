"""Models of web/api_plans.py: plans (跟进计划, 000 §7). Times are UTC instants; an all-day plan is a date of
the corp's calendar (its time zone, Corp.timezone)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from models.plans import PLAN_MAX_CHARS
from rules.calendar import View
from web.schemas.common import Body, CorpBody, CorpId, Day, Id, Instant, Out, PageQuery

PlanText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=PLAN_MAX_CHARS)]
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]

WHO = "whose plan: a member token's own (default) or a member of a department it leads; an admin token must name one"
STARTS = "when it starts (give starts_at or day)"
DAY = "an all-day plan (全天) on this date of the corp's calendar (give starts_at or day)"
REMIND = ("when to send the reminder (an app message, once; a time already past: at the next scan, within a "
          "minute); none: no reminder")


class PlanStatus(StrEnum):
    open = "open"
    done = "done"


class PlanQuery(PageQuery):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")
    view: View | None = Field(None, description="the calendar window holding `date`: day, week (Monday to Sunday) "
                                                "or month, in the corp's time zone; plans overlapping it")
    date: Day | None = Field(None, description="the day the view holds (default: today in the corp's time zone); "
                                               "alone, it means view=day")
    userid: str | None = Field(None, max_length=64, description="whose plans (403 outside the caller's members)")
    customer_id: Id | None = Field(None, description="about this customer (404 if not yours to see)")
    company_id: Id | None = Field(None, description="about this company (404 if not yours to see)")
    contact_id: Id | None = Field(None, description="about this contact (404 if not yours to see)")
    status: PlanStatus | None = None


class PlanBody(CorpBody):
    text: PlanText = Field(description=f"内容, 1 to {PLAN_MAX_CHARS} characters")
    userid: Userid | None = Field(None, description=WHO)
    customer_id: Id | None = Field(None, description="the customer it is about (one the caller may see)")
    company_id: Id | None = Field(None, description="the company it is about (one the caller may see)")
    contact_id: Id | None = Field(None, description="the contact it is about (one the caller may see)")
    starts_at: Instant | None = Field(None, description=STARTS)
    ends_at: Instant | None = Field(None, description="when it ends (not before starts_at; not with day)")
    day: Day | None = Field(None, description=DAY)
    remind_at: Instant | None = Field(None, description=REMIND)


class PlanEdit(Body):
    """Only the keys given change; customer_id, company_id, contact_id, ends_at and remind_at may be null
    (cleared)."""

    text: PlanText | None = None
    userid: Userid | None = Field(None, description=WHO)
    customer_id: Id | None = None
    company_id: Id | None = None
    contact_id: Id | None = None
    starts_at: Instant | None = Field(None, description="a new start: the plan is no longer all day")
    ends_at: Instant | None = None
    day: Day | None = Field(None, description="make it an all-day plan on this date")
    remind_at: Instant | None = Field(None, description="a new reminder time: an unsent reminder moves; a sent one "
                                                        "is sent again if the new time is ahead; null cancels")


class PlanOut(Out):
    id: int
    corp_id: str
    userid: str
    customer_id: int | None
    company_id: int | None
    contact_id: int | None
    text: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    all_day: bool
    day: dt.date | None = Field(description="the corp-local date of an all-day plan")
    remind_at: dt.datetime | None
    reminded_at: dt.datetime | None = Field(description="when the reminder was queued")
    status: PlanStatus
    done_at: dt.datetime | None
    created_by: str
    created_at: dt.datetime | None
