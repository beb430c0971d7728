"""Request and response models of roles, member permissions, seats (web/api_roles.py) and the audit log
(web/api_audit.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from models.access import MAX_ROLE_NAME, Action, DataScope
from web.schemas.admin import TimeRange
from web.schemas.common import CorpBody, CorpId, Out

RoleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ROLE_NAME)]
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Area = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MAX_ASSIGN = 1000
Permissions = dict[Area, list[Action]]


class RoleBody(CorpBody):
    name: RoleName = Field(description=f"at most {MAX_ROLE_NAME} characters, unique in the corp")
    permissions: Permissions = Field(default_factory=dict, description="area (GET /roles/areas) → actions allowed")
    data_scope: DataScope = Field(DataScope.self_, description="self 本人, department 本部门及以下, departments "
                                                               "自定义 (the ids in `departments`, and below), all 全部")
    departments: list[int] = Field(default_factory=list, max_length=1000,
                                   description="with data_scope departments: the department ids chosen")


class RolePatch(CorpBody):
    name: RoleName | None = None
    permissions: Permissions | None = None
    data_scope: DataScope | None = None
    departments: list[int] | None = Field(None, max_length=1000)


class RoleOut(Out):
    id: int
    corp_id: str
    name: str
    permissions: dict[str, list[str]]
    data_scope: str
    departments: list[int]
    members: int = Field(description="员工数: how many members hold the role")
    created_by: str
    created_at: str
    updated_at: str


class AreasOut(Out):
    areas: dict[str, list[str]] = Field(description="area → its routes (METHOD /path)")
    actions: list[str]


class UseridsBody(CorpBody):
    userids: list[Userid] = Field(min_length=1, max_length=MAX_ASSIGN)


class RoleMembersOut(Out):
    role_id: int
    userids: list[str]
    added: int | None = Field(None, description="on an assignment: how many of the userids did not hold it yet")


class PermissionsOut(Out):
    corp_id: str
    userid: str
    roles: list[str] = Field(description="the roles held (基础角色 when none is assigned)")
    permissions: dict[str, list[str]] | None = Field(description="area → actions; null: every area and action")
    data_scopes: list[str]
    userids: list[str] | None = Field(description="whose data the member sees; null: the whole corp")
    system_on: bool


class SystemBody(CorpBody):
    on: bool = Field(description="系统状态: may the member use the API, the bot and the sidebar")


class SeatsBody(CorpBody):
    limit: int | None = Field(description="开通账号数量: members with the system on (null: no limit)", ge=0,
                              le=1_000_000)


class SeatsOut(Out):
    corp_id: str
    limit: int | None
    used: int = Field(description="members switched on explicitly")


class SystemOut(Out):
    corp_id: str
    userid: str
    system_on: bool


class AuditQuery(TimeRange):
    corp_id: CorpId | None = None
    actor: str | None = Field(None, max_length=96, description="who: token:<name>, sidebar:<userid>, cli:<user>")
    area: str | None = Field(None, max_length=64, description="the action's part before its dot, e.g. customer")
    action: str | None = Field(None, max_length=64, description="e.g. customer.update")
    target: str | None = Field(None, max_length=191, description="the object, e.g. customer:12 (exact)")


class AuditOut(Out):
    id: int
    at: str
    corp_id: str | None
    actor: str
    area: str
    action: str
    target: str
    detail: dict[str, Any]
