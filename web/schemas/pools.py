"""Models of the public pool's API (web/api_pools.py, web/api_pool_customers.py; 004 §4.8, 9.9.4-9.9.5)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints

from web.schemas.common import Body, CorpBody, Id, Instant, Out, PageQuery

PoolName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ReasonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Days = Annotated[int, Field(ge=1, le=3650)]
DeptId = Annotated[int, Field(ge=1, le=2**32)]

RULES = {"never_followed_days": "超过N天从未跟进 (since the follower got the customer)",
         "not_friend_days": "超过N天未加企微好友 (the follower has no active WeCom follow relation)",
         "idle_days": "距上次跟进超过N天未再跟进",
         "no_deal_days": "超过N天未成交"}


class PoolFields(Body):
    name: PoolName | None = None
    departments: list[DeptId] | None = Field(None, max_length=500, description="适用部门: members of these "
                                             "departments and below browse and claim (empty: the whole corp)")
    auto_recycle: bool | None = Field(None, description="回收: 自动 (the daily scan applies the rules) or 手动")
    never_followed_days: Days | None = Field(None, description=RULES["never_followed_days"] + "; null: off")
    not_friend_days: Days | None = Field(None, description=RULES["not_friend_days"] + "; null: off")
    idle_days: Days | None = Field(None, description=RULES["idle_days"] + "; null: off")
    no_deal_days: Days | None = Field(None, description=RULES["no_deal_days"] + "; null: off")
    warn_days: Days | None = Field(None, description="the follower is told N days before a recycle; null: off")
    claim_lock_days: Days | None = Field(None, description="领取限制: the follower a customer left may not "
                                                           "claim it back for N days; null: off")


class PoolBody(PoolFields, CorpBody):
    name: PoolName


class PoolPatch(PoolFields):
    """Only the keys given change; a rule given as null is turned off."""


class PoolOut(Out):
    id: int
    corp_id: str
    name: str
    is_default: bool
    departments: list[int]
    auto_recycle: bool
    never_followed_days: int | None
    not_friend_days: int | None
    idle_days: int | None
    no_deal_days: int | None
    warn_days: int | None
    claim_lock_days: int | None
    customers: int = Field(description="customers in the pool now")


class ReasonBody(CorpBody):
    name: ReasonName


class ReasonPatch(Body):
    name: ReasonName


class ReasonOut(Out):
    id: int
    corp_id: str
    name: str


class PoolSettingsBody(CorpBody):
    claim_limit: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        description="a claim is refused (409) while the member holds this many customers; null: no limit")


class PoolSettingsOut(Out):
    corp_id: str
    claim_limit: int | None


class PoolCustomerFilters(PageQuery):
    corp_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    pool_id: Id | None = Field(None, description="one pool (404 if the caller may not see it)")
    name: str | None = Field(None, max_length=128, description="name contains")
    mobile: str | None = Field(None, max_length=32, description="mobile contains")
    reason: str | None = Field(None, max_length=64, description="退回原因 (or the recycle rule) exactly")
    left_by: str | None = Field(None, max_length=64, description="the follower it left")
    since: Instant | None = Field(None, description="in the pool since at or after")
    until: Instant | None = Field(None, description="in the pool since before")


class PoolLeadFilters(PageQuery):
    corp_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    pool_id: Id | None = Field(None, description="one pool (404 if the caller may not see it); only a default pool "
                                                 "holds leads, any other lists none")
    keyword: str | None = Field(None, max_length=64, description="in the name, mobile or company")


class PoolCustomerOut(Out):
    id: int
    corp_id: str
    name: str
    position: str
    mobile: str = Field(description="masked for a member while the corp hides mobiles")
    pool_id: int
    pool: str = Field(description="所属公海")
    reason: str = Field(description="退回原因, or the recycle rule that matched")
    left_by: str | None = Field(description="the follower it left")
    pooled_at: dt.datetime


class ReturnBody(Body):
    customer_id: Id
    pool_id: Id | None = Field(None, description="a pool the follower's department sees (default: the "
                                                 "customer's pool, else the corp's default pool)")
    reason_id: Id = Field(description="one of the corp's 退回原因")
    userid: Userid | None = Field(None, description="the follower (a member token: its own; an admin token "
                                                    "must name the current follower)")


class ClaimBody(Body):
    userid: Userid | None = Field(None, description="who claims: a member token's own (default); an admin "
                                                    "token must name one")


class AssignBody(Body):
    userid: Userid = Field(description="the member who gets the customer (told by app message)")


class MovedOut(Out):
    id: int = Field(description="the customer")
    pool_id: int | None
    owner_userid: str | None
    action: str


class MoveOut(Out):
    id: int
    customer_id: int
    pool_id: int | None
    action: str = Field(description="returned, recycled, claimed, assigned or deleted")
    userid: str | None = Field(description="the follower it left (returned, recycled) or got (claimed, assigned)")
    by: str
    reason: str
    at: dt.datetime
