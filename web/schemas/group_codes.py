"""Models of web/api_group_codes.py (group channel codes, their groups and join ways) and
web/api_group_welcome.py (group welcome templates). What a code's parts must hold beyond types and sizes
(image bytes, expiry, WeCom's byte limits) is rules/group_codes.py."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from rules.group_codes import GROUP_CAP, MAX_IMAGE_BYTES, STRATEGIES, TEMPLATE_TEXT_BYTES
from web.schemas.common import Body, CorpBody, Day, Id, Out, PageQuery, Query

Name30 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ChatId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Strategy = Literal[STRATEGIES]  # type: ignore[valid-type]
IMAGE_TEXT_CHARS = (MAX_IMAGE_BYTES + 2) // 3 * 4
QrImage = Annotated[str, Field(min_length=1, max_length=IMAGE_TEXT_CHARS, description=(
    f"the group's QR code: base64 of a PNG or JPEG, at most {MAX_IMAGE_BYTES} bytes"))]
ExpiresOn = Annotated[Day, Field(description="the corp-local day the QR code expires at 24:00 (WeCom's last 7 days); "
                                             "default: 6 days after today")]


# -- codes --------------------------------------------------------------------------------------------------
class GroupCodeChange(Body):
    name: Name30 | None = None
    scene: Annotated[str, StringConstraints(max_length=30)] | None = None
    channel: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    guide: Annotated[str, StringConstraints(max_length=30)] | None = Field(None, description="引导语 shown with the QR")
    strategy: Strategy | None = Field(None, description="overflow: fill groups in order; round_robin: each in turn; "
                                                        "nearest_expiry: the QR that expires first")
    owner: Userid | None = Field(None, description="userid told when the code turns abnormal (活码失效通知)")


class GroupCodeIn(GroupCodeChange, CorpBody):
    name: Name30
    channel: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    strategy: Strategy = "overflow"
    owner: Userid | None = Field(None, description="default: the caller's userid (required for a token without one)")


class GroupCodeQuery(PageQuery):
    status: Literal["normal", "abnormal"] | None = None
    name: str | None = Field(None, max_length=30, description="name or scene contains")


class GroupEntryOut(Out):
    id: int
    chat_id: str
    name: str
    position: int
    members: int = Field(description=f"staff + external now; full at {GROUP_CAP}")
    expires_at: dt.datetime
    usable: bool = Field(description="not full, not expired, not dismissed")
    image_type: str
    image_bytes: int


class GroupCodeOut(Out):
    id: int
    corp_id: str
    name: str
    scene: str
    channel: str
    guide: str
    strategy: str
    status: str = Field(description="abnormal: every group is full or expired")
    owner: str
    created_by: str
    landing_path: str = Field(description="the public page a scan opens (/g/<code>)")
    state: str = Field(description="what the code's join way tells WeCom; joins come back with it")
    groups: list[GroupEntryOut]
    scans: int = Field(description="scans of the landing page, ever")
    joins: int = Field(description="members who joined through the code's join way (their state)")
    created_at: dt.datetime


class EntryIn(Body):
    chat_id: ChatId
    qr_image: QrImage
    expires_on: ExpiresOn | None = None


class EntryChange(Body):
    qr_image: QrImage | None = Field(None, description="a new QR code (WeCom's last 7 days)")
    expires_on: ExpiresOn | None = None


class EntryOrder(Body):
    entry_ids: list[Id] = Field(min_length=1, max_length=1000, description="every group of the code, in the new order")


class StatsQuery(Query):
    days: int = Field(30, ge=1, le=366, description="corp-local days up to today")


class DayStat(Out):
    day: dt.date
    scans: int
    joins: int


class GroupScans(Out):
    chat_id: str = Field(description='"": scans that found no usable group')
    scans: int


class GroupCodeStats(Out):
    days: list[DayStat]
    scans: int
    joins: int = Field(description="joins through the join way in those days (GroupMember rows with its state)")
    by_group: list[GroupScans]


# -- join way -----------------------------------------------------------------------------------------------
class JoinWayIn(Body):
    scene: Literal[1, 2] = Field(2, description="1: the group mini-program plug-in, 2: the group QR code")
    remark: Annotated[str, StringConstraints(max_length=30)] = ""
    auto_create_room: bool = Field(True, description="a new group when they are full")
    room_base_name: Annotated[str, StringConstraints(max_length=40)] = Field("", description="new groups' name prefix")
    room_base_id: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = Field(None, description="new groups' first number")
    chat_ids: list[ChatId] = Field(min_length=1, max_length=5,
                                   description="groups of the corp, at most 5 (WeCom's limit)")


class JoinWayOut(Out):
    code_id: int
    scene: int
    remark: str
    auto_create_room: bool
    room_base_name: str
    room_base_id: int | None
    chat_ids: list[str]
    state: str
    config_id: str | None
    qr_code: str
    pending: bool = Field(description="true until WeCom's add_join_way answered")


# -- group welcome templates --------------------------------------------------------------------------------
class TemplateChange(Body):
    text: Annotated[str, StringConstraints(max_length=TEMPLATE_TEXT_BYTES)] | None = Field(
        None, description=f"at most {TEMPLATE_TEXT_BYTES} bytes; %NICKNAME% becomes the member's name")
    material_id: Id | None = Field(None, description="an image, link or mini-program from the material library")


class TemplateIn(TemplateChange, CorpBody):
    text: Annotated[str, StringConstraints(max_length=TEMPLATE_TEXT_BYTES)] = ""
    notify: bool = Field(True, description="WeCom tells the group owners to apply it to their groups")


class TemplateOut(Out):
    id: int
    corp_id: str
    text: str
    material_id: int | None
    notify: bool
    template_id: str | None = Field(description="WeCom's id; null until group_welcome_template/add answered")
    created_by: str
    created_at: dt.datetime

