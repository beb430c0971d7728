"""Roles and data scopes (004 §2.2 员工权限管理, 000 part 3) and seats (004 §2.1 系统状态).

A corp's super_admin defines roles: a name (≤30, unique per corp), permissions per API area and action
(read, write, delete, export) and a data scope (本人 `self`, 本部门及以下 `department`, 自定义 `departments`
with chosen department ids and those below them, 全部 `all`). A member holds any number of roles
(`member_roles`); one with none holds the built-in 基础角色 (BASIC), which is what a member token could do
before roles existed: every area and action, on their own data. Several roles add up: the permissions and
the data scopes are both unions.

Seats: a member whose system is off (系统状态 关闭) cannot use the admin API, the bot or the sidebar. While the
corp has no seat limit every member is on unless switched off; once a limit is set (开通账号数量), only members
switched on explicitly are on (the manual: new members start off), and switching on past the limit is refused.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, created_at, intpk, utcnow
from models.directory import OrgChart
from models.settings import CorpSettings

MAX_ROLE_NAME = 30
BASIC_NAME = "基础角色"
SYSTEM_OFF = "你的系统状态已关闭，不能使用本系统，请联系管理员开启。"
"""What the bot answers, and the API and the sidebar say (403 `system_off`), to a member whose system is off."""


class Action(enum.StrEnum):
    read = "read"
    write = "write"
    delete = "delete"
    export = "export"


class DataScope(enum.StrEnum):
    self_ = "self"
    department = "department"
    departments = "departments"
    all = "all"


class AccessRole(Base):
    """A role of a corp. `permissions`: area → the actions allowed there (areas: web/access.py AREAS)."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("corp_id", "name"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(MAX_ROLE_NAME))
    permissions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_scope: Mapped[str] = mapped_column(String(16), default=DataScope.self_.value)
    departments: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(96), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MemberRole(Base):
    __tablename__ = "member_roles"
    __table_args__ = (UniqueConstraint("corp_id", "userid", "role_id"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[created_at]


class MemberSeat(Base):
    """A member's 系统状态 switched explicitly; no row: on while the corp has no seat limit, else off."""

    __tablename__ = "member_seats"
    __table_args__ = (UniqueConstraint("corp_id", "userid"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    system_on: Mapped[bool]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class Access:
    """What one member may do and see in one corp. `permissions` None: every area and action (the basic
    role); `userids` None: the whole corp's data (a role with scope `all`); `departments`: the departments
    the data scopes cover, with those below them (None with `userids`)."""

    roles: tuple[str, ...]
    permissions: dict[str, frozenset[str]] | None
    userids: frozenset[str] | None
    scopes: tuple[str, ...]
    departments: frozenset[int] | None = frozenset()

    def can(self, area: str, action: str) -> bool:
        return self.permissions is None or action in self.permissions.get(area, frozenset())


def member_access(session: Session, corp_id: str, userid: str) -> Access:
    """The union of `userid`'s roles in `corp_id` (the basic role when they hold none): the one place a
    member's data scope is resolved, for the admin API, the bot and the sidebar alike."""
    roles = list(session.scalars(select(AccessRole).join(MemberRole, MemberRole.role_id == AccessRole.id).where(
        MemberRole.corp_id == corp_id, MemberRole.userid == userid).order_by(AccessRole.id)))
    if not roles:
        return Access((BASIC_NAME,), None, frozenset({userid}), (DataScope.self_.value,))
    permissions: dict[str, set[str]] = {}
    for role in roles:
        for area, actions in (role.permissions or {}).items():
            permissions.setdefault(area, set()).update(actions)
    scopes = tuple(dict.fromkeys(r.data_scope for r in roles))
    if DataScope.all.value in scopes:
        userids: frozenset[str] | None = None
        below: frozenset[int] | None = None
    else:
        chart = OrgChart.load(session, corp_id)
        depts: set[int] = set()
        for role in roles:
            if role.data_scope == DataScope.department.value:
                depts |= chart.staff.get(userid, set())
            elif role.data_scope == DataScope.departments.value:
                depts |= {int(d) for d in role.departments or []}
        below = frozenset(chart.below(depts))
        userids = frozenset(chart.members_of(below) | {userid})
    return Access(tuple(r.name for r in roles), {a: frozenset(x) for a, x in permissions.items()}, userids, scopes,
                  below)


def seat_limit(session: Session, corp_id: str) -> int | None:
    return session.scalar(select(CorpSettings.seat_limit).where(CorpSettings.corp_id == corp_id))


def system_on(session: Session, corp_id: str, userid: str) -> bool:
    """Is `userid`'s system on (may they use the API, the bot and the sidebar)?"""
    explicit = session.scalar(select(MemberSeat.system_on).where(MemberSeat.corp_id == corp_id,
                                                                 MemberSeat.userid == userid))
    return explicit if explicit is not None else seat_limit(session, corp_id) is None


def seats_used(session: Session, corp_id: str) -> int:
    """Members switched on explicitly: what a seat limit counts."""
    return session.scalar(select(func.count()).where(MemberSeat.corp_id == corp_id,
                                                     MemberSeat.system_on.is_(True))) or 0
