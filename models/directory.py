"""The corp's address book as synced from WeCom: departments, and staff statuses over time."""

from __future__ import annotations

import datetime as dt
from typing import Any

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


def sub_departments(session: Session, corp_id: str | None, roots: set[int]) -> set[int]:
    """`roots` and every department below them (None: departments of every corp)."""
    query = select(Department.dept_id, Department.parent_id).where(Department.deleted_at.is_(None))
    if corp_id:
        query = query.where(Department.corp_id == corp_id)
    children: dict[int, list[int]] = {}
    for dept_id, parent_id in session.execute(query):
        if parent_id is not None and parent_id != dept_id:
            children.setdefault(parent_id, []).append(dept_id)
    found, todo = set(roots), list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def led_members(session: Session, corp_id: str, leader: str) -> set[str]:
    """Userids of the members of the departments `leader` leads (部门负责人, Department.leaders) and of their
    sub-departments: the subordinates (下属) a manager plans for and sees."""
    led = {dept_id for dept_id, leaders in session.execute(select(Department.dept_id, Department.leaders).where(
        Department.corp_id == corp_id, Department.deleted_at.is_(None))) if leader in (leaders or [])}
    if not led:
        return set()
    depts = sub_departments(session, corp_id, led)
    return {userid for userid, member_of in session.execute(select(Staff.userid, Staff.department).where(
        Staff.corp_id == corp_id)) if depts & {int(d) for d in member_of or []}}
