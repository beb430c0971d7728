"""Models of web/api_contact.py: channel codes, welcome messages, materials, corp settings. The models fix
JSON types and column sizes; what a code must hold as a whole (members per kind, backups, the welcome's
length per scope) is `rules.channels.code_errors` and `rules.welcome.welcome_errors`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from rules.channels import KINDS, MODES, POLICIES
from rules.welcome import MAX_ATTACHMENTS
from web.schemas.common import Body, CorpBody, Id, Out, Query

UserId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Minute = Annotated[int, Field(ge=0, le=1439, description="minutes since local midnight")]
Kind = Literal[KINDS]  # type: ignore[valid-type]
class WelcomeIn(Body):
    text: str = Field("", max_length=4000)
    material_ids: list[Id] = Field([], max_length=MAX_ATTACHMENTS)
    group_code_id: Id | None = Field(None, description="a group code (群活码) whose join-way QR code the welcome "
                                                       "carries (one more attachment)")
    group_qr_as: Literal["image", "link"] = Field("image", description="the QR as an image, or a link to it")


class CodeChange(Body):
    """What is given changes; members and departments together replace the members."""

    kind: Kind | None = Field(None, description="fixed once created")
    name: str | None = Field(None, max_length=64)
    channel: str | None = Field(None, max_length=64)
    scene: str | None = Field(None, max_length=30)
    remark: str | None = Field(None, max_length=30)
    members: list[UserId] | None = None
    departments: list[Id] | None = Field(None, description="their members join `members`")
    backups: list[UserId] | None = None
    assign_mode: Literal[MODES] | None = None  # type: ignore[valid-type]
    daily_limit: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(None, description="null: no limit")
    accept_policy: Literal[POLICIES] | None = None  # type: ignore[valid-type]
    tag_ids: list[Id] | None = Field(None, description="tags every customer through the code gets")
    welcome: WelcomeIn | None = Field(None, description="replaces the code's welcome; {} removes it")


class CodeIn(CodeChange, CorpBody):
    kind: Kind = Field(description="batch_single: one single code per member")
    name: str = Field(max_length=64)
    channel: str = Field(max_length=64)


class CodeQuery(Query):
    kind: str | None = Field(None, max_length=16)
    status: Literal["normal", "abnormal"] | None = None
    scene: str | None = Field(None, max_length=30)
    staff: str | None = Field(None, max_length=64, description="a member's userid")


class DayAdds(Out):
    day: dt.date
    adds: int


class CodeOut(Out):
    id: int
    corp_id: str
    kind: str
    name: str
    scene: str
    channel: str
    state: str
    config_id: str | None
    qr_code: str
    assign_mode: str
    daily_limit: int | None
    accept_policy: str
    tag_ids: list[str] = Field(description="WeCom's tag ids")
    remark: str
    status: str
    members: list[str]
    backups: list[str]
    current_users: list[str] = Field(description="whom the code routes to now")
    pending: bool = Field(description="true until WeCom's add_contact_way answered")
    adds_by_day: list[DayAdds] = Field(description="the last 30 corp-local days")
    created_at: dt.datetime


class WelcomeMessageIn(CorpBody, WelcomeIn):
    scope: Literal["default", "staff"] = Field("default", description="a code's welcome is set on the code")
    userid: UserId | None = Field(None, description="required for scope staff")
    start_minute: Minute | None = None
    end_minute: Minute | None = None


class WelcomeChange(Body):
    """What is given changes (a code's own welcome is changed through the code)."""

    text: str | None = Field(None, max_length=4000)
    material_ids: list[Id] | None = Field(None, max_length=MAX_ATTACHMENTS)
    group_code_id: Id | None = Field(None, description="0 removes the group QR code")
    group_qr_as: Literal["image", "link"] | None = None
    userid: UserId | None = Field(None, description="a member's welcome: whose")
    start_minute: Minute | None = None
    end_minute: Minute | None = None


class WelcomeOut(Out):
    id: int
    scope: str
    userid: str | None
    code_id: int | None
    text: str
    material_ids: list[int]
    group_code_id: int | None
    group_qr_as: str
    start_minute: int | None
    end_minute: int | None


class SettingsChange(CorpBody):
    model_config = ConfigDict(extra="forbid")

    mask_mobile_for_members: bool | None = None
    recycle_retention_days: Annotated[int, Field(ge=1, le=36500)] | None = None
    notify_manager_on_loss: bool | None = None
    allow_stage_skip: bool | None = Field(None, description="允许任意跨越阶段 (off: only the next stage)")
    allow_reopen_lost: bool | None = Field(None, description="允许输单后重新启动 (off: lost is final)")
    notify_owner_on_group_quit: bool | None = Field(
        None, description="退群提醒: a customer group's owner gets an app message when a customer quits it")
    notify_manager_on_staff_delete: bool | None = Field(
        None, description="删好友预警: a member's manager gets an app message when the member deletes a customer")


class SettingsOut(Out):
    corp_id: str
    mask_mobile_for_members: bool
    recycle_retention_days: int
    notify_manager_on_loss: bool
    allow_stage_skip: bool
    allow_reopen_lost: bool
    notify_owner_on_group_quit: bool
    notify_manager_on_staff_delete: bool

