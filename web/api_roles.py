"""Roles and data scopes (004 §2.2 员工权限管理), who holds them, what a member may do and see, and seats
(§2.1 系统状态, 开通账号数量). A super_admin writes; an admin reads. The rules live in models/access.py and
are applied by web/access.py to every route, the bot and the sidebar."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Department, Role, Staff
from models.access import (BASIC_NAME, AccessRole, Action, DataScope, MemberRole, MemberSeat, member_access,
                           seat_limit, seats_used, system_on)
from models.db import get_or_create
from models.settings import CorpSettings
from web import errors
from web.access import access, areas, describe
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.common import CorpQuery, Deleted, Items
from web.schemas.roles import (AreasOut, PermissionsOut, RoleBody, RoleMembersOut, RoleOut, RolePatch, SeatsBody,
                               SeatsOut, SystemBody, SystemOut, UseridsBody)
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_roles", __name__, url_prefix="/api/v1")
errors.register(bp)


def _corp(s: Session, requested: str | None) -> str:
    return corp_and_app(s, requested)[0]


def _json(s: Session, role: AccessRole) -> dict[str, Any]:
    members = s.scalar(select(func.count()).where(MemberRole.role_id == role.id)) or 0
    return {"id": role.id, "corp_id": role.corp_id, "name": role.name,
            "permissions": {a: sorted(x) for a, x in sorted((role.permissions or {}).items())},
            "data_scope": role.data_scope, "departments": list(role.departments or []), "members": members,
            "created_by": role.created_by, "created_at": role.created_at.isoformat(),
            "updated_at": role.updated_at.isoformat()}


def _role(s: Session, role_id: int) -> AccessRole:
    role = s.get(AccessRole, role_id)
    if role is None or not in_scope(role.corp_id):
        raise ApiError(404, "not_found", f"no role {role_id}")
    return role


def _check(s: Session, corp_id: str, name: str, permissions: dict[str, list[Action]], scope: DataScope,
           departments: list[int], role_id: int | None) -> None:
    """422 for an unknown area, a reserved name, departments that do not fit the scope; 409 for a taken name."""
    known = areas()
    unknown = sorted(set(permissions) - set(known))
    if unknown:
        raise ApiError(422, "invalid", f"permissions: unknown area {', '.join(unknown)} (GET /api/v1/roles/areas)",
                       {"permissions": "unknown area"})
    if name == BASIC_NAME:
        raise ApiError(422, "invalid", f"name: {BASIC_NAME} is the built-in role", {"name": "reserved"})
    if scope is DataScope.departments:
        if not departments:
            raise ApiError(422, "invalid", "departments: choose at least one for data_scope departments",
                           {"departments": "required"})
        have = set(s.scalars(select(Department.dept_id).where(Department.corp_id == corp_id,
                                                              Department.dept_id.in_(departments),
                                                              Department.deleted_at.is_(None))))
        missing = sorted(set(departments) - have)
        if missing:
            raise ApiError(422, "invalid", f"departments: no department {', '.join(map(str, missing))} in this corp",
                           {"departments": "unknown"})
    elif departments:
        raise ApiError(422, "invalid", "departments: only with data_scope departments", {"departments": "unexpected"})
    taken = select(AccessRole.id).where(AccessRole.corp_id == corp_id, AccessRole.name == name)
    if s.scalar(taken if role_id is None else taken.where(AccessRole.id != role_id)) is not None:
        raise ApiError(409, "conflict", f"the corp has a role named {name} already")


def _flush_name(s: Session, name: str) -> None:
    """Flush a role's name: a 409 when another request took it since `_check` looked."""
    try:
        s.flush()
    except IntegrityError:
        raise ApiError(409, "conflict", f"the corp has a role named {name} already") from None


def _stored(permissions: dict[str, list[Action]]) -> dict[str, list[str]]:
    return {area: sorted({a.value for a in actions}) for area, actions in permissions.items() if actions}


@bp.get("/roles")
@require(Role.admin)
@endpoint("The corp's roles with their permissions, data scope and member count (the built-in 基础角色, held by "
          "every member without a role, is not stored: GET /members/<userid>/permissions shows it)",
          query=CorpQuery, response=Items[RoleOut])
def list_roles(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        rows = select(AccessRole).order_by(AccessRole.id)
        corp_id = g.principal.corp_id or query.corp_id
        if corp_id:
            rows = rows.where(AccessRole.corp_id == corp_id)
        items = [_json(s, r) for r in s.scalars(rows) if in_scope(r.corp_id)]
    return jsonify({"items": items, "total": len(items)})


@bp.get("/roles/areas")
@require(Role.admin)
@endpoint("The permission areas (a route's first path segment after /api/v1) with their routes, and the actions",
          response=AreasOut)
def list_areas() -> Any:
    return jsonify({"areas": areas(), "actions": [a.value for a in Action]})


@bp.post("/roles")
@require(Role.super_admin)
@endpoint("Create a role", body=RoleBody, response=RoleOut, status=201)
def create_role(body: RoleBody) -> Any:
    with runtime().Session() as s:
        corp_id = _corp(s, body.corp_id)
        _check(s, corp_id, body.name, body.permissions, body.data_scope, body.departments, None)
        role = AccessRole(corp_id=corp_id, name=body.name, permissions=_stored(body.permissions),
                          data_scope=body.data_scope.value, departments=sorted(set(body.departments)),
                          created_by=g.principal.actor)
        s.add(role)
        _flush_name(s, role.name)
        audit(s, "role.create", f"role:{role.id}", corp_id=corp_id, name=role.name, data_scope=role.data_scope)
        s.commit()
        return jsonify(_json(s, role)), 201


@bp.get("/roles/<id:role_id>")
@require(Role.admin)
@endpoint("One role", response=RoleOut)
def get_role(role_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_json(s, _role(s, role_id)))


@bp.patch("/roles/<id:role_id>")
@require(Role.super_admin)
@endpoint("Change a role's name, permissions or data scope", body=RolePatch, response=RoleOut)
def update_role(role_id: int, body: RolePatch) -> Any:
    with runtime().Session() as s:
        role = _role(s, role_id)
        if body.corp_id not in (None, role.corp_id):
            raise ApiError(404, "not_found", f"no role {role_id}")
        scope = body.data_scope or DataScope(role.data_scope)
        departments = body.departments if body.departments is not None else (
            list(role.departments or []) if scope is DataScope.departments else [])
        permissions = body.permissions if body.permissions is not None else {
            a: [Action(x) for x in xs] for a, xs in (role.permissions or {}).items()}
        name = body.name or role.name
        _check(s, role.corp_id, name, permissions, scope, departments, role.id)
        role.name, role.permissions, role.data_scope = name, _stored(permissions), scope.value
        role.departments = sorted(set(departments))
        _flush_name(s, name)
        audit(s, "role.update", f"role:{role.id}", corp_id=role.corp_id,
              fields=sorted(body.model_dump(exclude_none=True, exclude={"corp_id"})))
        s.commit()
        return jsonify(_json(s, role))


@bp.delete("/roles/<id:role_id>")
@require(Role.super_admin)
@endpoint("Delete a role: its members lose it (one left with none holds 基础角色)", response=Deleted)
def delete_role(role_id: int) -> Any:
    with runtime().Session() as s:
        role = _role(s, role_id)
        held = s.execute(delete(MemberRole).where(MemberRole.role_id == role.id)).rowcount
        s.delete(role)
        audit(s, "role.delete", f"role:{role_id}", corp_id=role.corp_id, name=role.name, members=held)
        s.commit()
    return jsonify({"id": role_id, "deleted": True})


def _holders(s: Session, role: AccessRole) -> list[str]:
    return list(s.scalars(select(MemberRole.userid).where(MemberRole.role_id == role.id).order_by(MemberRole.userid)))


@bp.get("/roles/<id:role_id>/members")
@require(Role.admin)
@endpoint("The members holding a role", response=RoleMembersOut)
def role_members(role_id: int) -> Any:
    with runtime().Session() as s:
        role = _role(s, role_id)
        return jsonify({"role_id": role.id, "userids": _holders(s, role)})


def _staff(s: Session, corp_id: str, userids: list[str]) -> None:
    have = set(s.scalars(select(Staff.userid).where(Staff.corp_id == corp_id, Staff.userid.in_(userids))))
    missing = sorted(set(userids) - have)
    if missing:
        raise ApiError(422, "invalid", f"userids: no member {', '.join(missing[:10])} in this corp",
                       {"userids": "unknown"})


def _member(s: Session, corp_id: str, userid: str) -> str:
    """`corp_id` when `userid` is a member of it, else a 404."""
    if s.scalar(select(Staff.id).where(Staff.corp_id == corp_id, Staff.userid == userid)) is None:
        raise ApiError(404, "not_found", f"no member {userid} in this corp")
    return corp_id


@bp.post("/roles/<id:role_id>/members")
@require(Role.super_admin)
@endpoint("Give a role to members (设置权限: added to the roles they hold, never replacing them)",
          body=UseridsBody, response=RoleMembersOut)
def add_role_members(role_id: int, body: UseridsBody) -> Any:
    with runtime().Session() as s:
        role = _role(s, role_id)
        if body.corp_id not in (None, role.corp_id):
            raise ApiError(404, "not_found", f"no role {role_id}")
        _staff(s, role.corp_id, body.userids)
        added = [u for u in dict.fromkeys(body.userids)
                 if get_or_create(s, MemberRole, {"corp_id": role.corp_id, "userid": u, "role_id": role.id})[1]]
        audit(s, "role.assign", f"role:{role.id}", corp_id=role.corp_id, userids=added[:100], added=len(added))
        s.commit()
        return jsonify({"role_id": role.id, "userids": _holders(s, role), "added": len(added)})


@bp.delete("/roles/<id:role_id>/members/<userid>")
@require(Role.super_admin)
@endpoint("Take a role from a member", response=RoleMembersOut)
def remove_role_member(role_id: int, userid: str) -> Any:
    with runtime().Session() as s:
        role = _role(s, role_id)
        row = s.scalar(select(MemberRole).where(MemberRole.role_id == role.id, MemberRole.userid == userid))
        if row is None:
            raise ApiError(404, "not_found", f"{userid} does not hold role {role_id}")
        s.delete(row)
        audit(s, "role.unassign", f"role:{role.id}", corp_id=role.corp_id, userid=userid)
        s.commit()
        return jsonify({"role_id": role.id, "userids": _holders(s, role)})


@bp.get("/members/<userid>/permissions")
@require(Role.member)
@endpoint("What a member may do (permissions per area) and see (data scopes, the userids whose data): a member "
          "token asks about itself only", query=CorpQuery, response=PermissionsOut)
def member_permissions(userid: str, query: CorpQuery) -> Any:
    principal = g.principal
    if principal.is_member and userid != principal.userid:
        raise ApiError(403, "forbidden", "a member token sees its own permissions only")
    with runtime().Session() as s:
        corp_id = str(principal.corp_id) if principal.is_member else _member(s, _corp(s, query.corp_id), userid)
        found = access(s) if principal.is_member else None
        return jsonify({"corp_id": corp_id, "userid": userid, **describe(found or member_access(s, corp_id, userid)),
                        "system_on": system_on(s, corp_id, userid)})


# -- seats (系统状态) -----------------------------------------------------------------------------------------
def _seats(s: Session, corp_id: str) -> dict[str, Any]:
    return {"corp_id": corp_id, "limit": seat_limit(s, corp_id), "used": seats_used(s, corp_id)}


@bp.get("/seats")
@require(Role.admin)
@endpoint("The corp's seat limit (开通账号数量) and the members switched on", query=CorpQuery, response=SeatsOut)
def get_seats(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        return jsonify(_seats(s, _corp(s, query.corp_id)))


@bp.put("/seats")
@require(Role.super_admin)
@endpoint("Set the corp's seat limit. With a limit, only members switched on (PUT /members/<userid>/system) may "
          "use the API, the bot and the sidebar; null: no limit, every member not switched off may",
          body=SeatsBody, response=SeatsOut)
def put_seats(body: SeatsBody) -> Any:
    with runtime().Session() as s:
        corp_id = _corp(s, body.corp_id)
        row, _ = get_or_create(s, CorpSettings, {"corp_id": corp_id})
        before, row.seat_limit = row.seat_limit, body.limit
        audit(s, "seats.limit", f"corp:{corp_id}", corp_id=corp_id, before=before, after=body.limit)
        s.commit()
        return jsonify(_seats(s, corp_id))


@bp.put("/members/<userid>/system")
@require(Role.super_admin)
@endpoint("Switch a member's system on or off (系统状态); on past the seat limit is a 409", body=SystemBody,
          response=SystemOut)
def put_system(userid: str, body: SystemBody) -> Any:
    with runtime().Session() as s:
        corp_id = _member(s, _corp(s, body.corp_id), userid)
        settings = s.scalar(select(CorpSettings).where(CorpSettings.corp_id == corp_id).with_for_update())
        seat, _ = get_or_create(s, MemberSeat, {"corp_id": corp_id, "userid": userid}, system_on=False)
        limit = settings.seat_limit if settings is not None else None
        if body.on and not seat.system_on and limit is not None and seats_used(s, corp_id) >= limit:
            raise ApiError(409, "seat_limit", f"可使用数量已用完，请联系商务: the corp's seat limit is {limit} and "
                                              f"{limit} members have the system on")
        before, seat.system_on = seat.system_on, body.on
        audit(s, "seats.system", f"member:{userid}", corp_id=corp_id, before=before, after=body.on)
        s.commit()
        return jsonify({"corp_id": corp_id, "userid": userid, "system_on": system_on(s, corp_id, userid)})
