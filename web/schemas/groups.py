"""Models of the customer-group admin API (004 §4.2): the list's filters, a group as the API shows it, its
size on a day, its portrait, group tags (§4.6.2) and the corp's activity rule (§4.2.2)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from models.group_activity import DEFAULT_ACTIVE_PERCENT, DEFAULT_MESSAGE_PERCENT, DEFAULT_WINDOW_DAYS
from web.schemas.common import Body, CorpBody, CorpId, Day, Id, Int32, Out, PageQuery, Query
from web.schemas.tags import TagChange, TagGroupIn, TagIn, TagName

ChatId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Size = Annotated[int, Field(ge=0, le=100_000)]
MAX_BULK = 500  # groups tagged in one request


# -- list ----------------------------------------------------------------------------------------------------
class GroupFilters(Query):
    """The list's filters (004 §4.2.1); every one given must hold."""

    owner: str | None = Field(None, max_length=64, description="userid of the group owner (群主)")
    name: str | None = Field(None, max_length=128, description="keyword in the group's name")
    tag: list[Id] | None = Field(None, description="group tag id; repeat it: groups with every tag given")
    created_from: Day | None = Field(None, description="created (WeCom's create_time) on or after this corp-local day")
    created_to: Day | None = Field(None, description="… on or before this corp-local day")
    min_size: Size | None = Field(None, description="at least this many members now (staff + external)")
    max_size: Size | None = Field(None, description="at most this many members now")
    active: bool | None = Field(None, description="by the corp's activity rule (GET /group-activity-rule)")
    dismissed: bool | None = Field(None, description="dismissed (解散) or not; both when left out")


class GroupQuery(GroupFilters, PageQuery):
    pass


class GroupExportQuery(GroupFilters):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")


class SizeOut(Out):
    total: int
    staff: int
    external: int


class GroupTagRef(Out):
    id: int
    name: str
    tag_group_id: int


class GroupOut(Out):
    corp_id: str
    chat_id: str
    name: str
    owner: str = Field(description="the owner's (群主) userid")
    owner_name: str
    size: SizeOut = Field(description="members now")
    tags: list[GroupTagRef]
    created_at: dt.datetime | None = Field(description="WeCom's create_time")
    active: bool
    dismissed: bool


class MemberOut(Out):
    member_id: str = Field(description="userid (staff) or external_userid")
    type: Literal["staff", "external"]
    name: str
    group_nickname: str
    customer_id: int | None = Field(description="our customer row, when the external member is linked")
    joined_at: dt.datetime
    join_scene: int | None = Field(description="1 direct invite, 2 invite link, 3 scanned a code")
    inviter: str = Field(description="the inviter's userid")


class LeftOut(MemberOut):
    quit_at: dt.datetime
    quit_scene: int | None = Field(description="0 left by themself (自己退群), 1 removed by the owner or an admin")


class GroupDetail(GroupOut):
    notice: str
    admins: list[str]
    status: int = Field(description="0 normal, 1 owner resigned, 2 inheriting, 3 inherited")
    dismissed_at: dt.datetime | None
    fields: dict[str, Any] = Field(description="group custom field key → value (members: visible fields)")
    members: list[MemberOut] = Field(description="in the group now, by join time")
    left: list[LeftOut] = Field(description="stints that ended, latest quit first")


# -- size and portrait -------------------------------------------------------------------------------------
class SizeQuery(Query):
    date: str = Field(description="YYYY-MM-DD: a corp-local day, today or before (checked by the view: a "
                                  "malformed or future date is a 422 naming `date`)")


class DaySize(Out):
    date: dt.date
    members: int
    external: int
    staff: int


def _window(days: int) -> int:
    if days not in (7, 30):
        raise ValueError("7 or 30")
    return days


class PortraitQuery(Query):
    days: Annotated[int, AfterValidator(_window)] = Field(
        7, description="the window: the last 7 or 30 corp-local days, today included", json_schema_extra={
            "enum": [7, 30]})


class Gender(Out):
    male: int
    female: int
    unknown: int


class Composition(Out):
    staff: int
    customers: int = Field(description="external members linked to a customer row")
    unlinked: int = Field(description="external members we hold no customer row for")


class TagCount(Out):
    id: int
    name: str
    customers: int


class DayTrend(Out):
    date: dt.date
    joins: int
    quits: int
    members: int = Field(description="members at the end of the day")


class Scenes(Out):
    direct_invite: int
    invite_link: int
    scanned_code: int
    unknown: int


class Portrait(Out):
    chat_id: str
    days: int
    members: SizeOut
    composition: Composition
    gender: Gender = Field(description="of the external members linked to a customer (微信's gender)")
    member_tags: list[TagCount] = Field(description="customer tags of the linked members, most customers first")
    trend: list[DayTrend] = Field(description="one row per corp-local day, oldest first")
    join_scenes: Scenes = Field(description="how the current members came in")


# -- group tags ----------------------------------------------------------------------------------------------
class GroupTagGroupIn(TagGroupIn):
    exclusive: bool = Field(False, description="互斥: a group holds at most one of these tags")


class GroupTagGroupChange(Body):
    name: TagName | None = None
    order: Int32 | None = None
    exclusive: bool | None = None


class GroupTagIn(TagIn):
    order: Int32 = 0


class GroupTagChange(TagChange):
    order: Int32 | None = None


class GroupTagOut(Out):
    id: int
    tag_group_id: int
    name: str
    order: int
    colour: str
    description: str
    groups: int = Field(description="customer groups holding it")


class GroupTagGroupOut(Out):
    id: int
    corp_id: str
    name: str
    order: int
    exclusive: bool
    tags: list[GroupTagOut]


class GroupTaggingBody(CorpBody):
    chat_ids: list[ChatId] = Field(min_length=1, max_length=MAX_BULK, description="the groups to tag")
    add: list[Id] = Field([], description="group tag ids to put on every group")
    remove: list[Id] = Field([], description="group tag ids to take off every group")


class GroupTaggingOut(Out):
    groups: int
    added: int = Field(description="taggings made (an existing one is kept)")
    removed: int = Field(description="taggings taken off (also those an exclusive tag group replaced)")


# -- activity rule ------------------------------------------------------------------------------------------
class ActivityRuleBody(CorpBody):
    window_days: Annotated[int, Field(ge=1, le=90, description="最近N日: 1 (today), 7, 30 or any up to 90")] = (
        DEFAULT_WINDOW_DAYS)
    min_active_percent: Annotated[int, Field(ge=0, le=100, description="活跃度比例 ≥ this percent")] = (
        DEFAULT_ACTIVE_PERCENT)
    min_message_percent: Annotated[int, Field(ge=0, le=100_000, description=(
        "发言次数: messages per member per day × 100 ≥ this (e.g. 1 = 1%); we see no group messages without "
        "the chat archive, so a value above 0 makes no group active"))] = DEFAULT_MESSAGE_PERCENT


class ActivityRuleOut(Out):
    corp_id: str
    window_days: int
    min_active_percent: int
    min_message_percent: int
    saved: bool = Field(description="false: the defaults, never changed")
    counts: str = Field(description="which inputs are counted")

