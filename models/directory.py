"""The corp's address book as synced from WeCom: departments, and staff statuses over time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Set
from dataclasses import dataclass
from typing import Any, Self

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, created_at, intpk, utcnow
from models.staff import Staff


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("corp_id", "dept_id"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    dept_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(64), default="")
    parent_id: Mapped[int | None]
    order: Mapped[int] = mapped_column(default=0)
    leaders: Mapped[list[Any]] = mapped_column(default=list)
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class OrgChart:
    """A corp's departments (parent → children, leaders) and who is in which, read in two queries: the one
    place that walks the department tree, for every rule about "a department and those below it" (leaders'
    subordinates, report scopes, pools' departments, assignment and inheritance over departments)."""

    children: dict[int, list[int]]
    leaders: dict[int, list[str]]
    staff: dict[str, set[int]]  # userid → departments

    @classmethod
    def load(cls, session: Session, corp_id: str | None, with_staff: bool = True) -> Self:
        """`corp_id`'s chart (None: every corp's departments, for a caller that names dept ids only)."""
        children: dict[int, list[int]] = {}
        leaders: dict[int, list[str]] = {}
        query = select(Department.dept_id, Department.parent_id, Department.leaders).where(
            Department.deleted_at.is_(None))
        for dept_id, parent_id, led_by in session.execute(
                query.where(Department.corp_id == corp_id) if corp_id else query):
            leaders[dept_id] = list(led_by or [])
            if parent_id is not None and parent_id != dept_id:
                children.setdefault(parent_id, []).append(dept_id)
        staff = {userid: {int(d) for d in depts or []} for userid, depts in session.execute(
            select(Staff.userid, Staff.department).where(Staff.corp_id == corp_id))} if with_staff else {}
        return cls(children, leaders, staff)

    def below(self, roots: set[int]) -> set[int]:
        """`roots` and every department under them."""
        found, todo = set(roots), list(roots)
        while todo:
            for child in self.children.get(todo.pop(), []):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def members_of(self, depts: Set[int]) -> set[str]:
        return {userid for userid, member_of in self.staff.items() if member_of & depts}

    def led_by(self, userid: str) -> set[int]:
        """The departments `userid` leads (部门负责人) and those below them."""
        return self.below({d for d, leaders in self.leaders.items() if userid in leaders})


def sub_departments(session: Session, corp_id: str | None, roots: set[int]) -> set[int]:
    """`roots` and every department below them (None: departments of every corp)."""
    return OrgChart.load(session, corp_id, with_staff=False).below(roots)


def led_members(session: Session, corp_id: str, leader: str) -> set[str]:
    """Userids of the members of the departments `leader` leads (部门负责人, Department.leaders) and of their
    sub-departments: the subordinates (下属) a manager plans for and sees."""
    chart = OrgChart.load(session, corp_id)
    return chart.members_of(chart.led_by(leader))
