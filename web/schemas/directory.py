"""Models of web/api_directory.py: departments, staff, the directory sync."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from handlers.directory import STAFF_STATUSES

from web.schemas.common import CorpBody, CorpQuery, Id, Out, PageQuery

StaffStatus = Literal[STAFF_STATUSES]  # type: ignore[valid-type]


class DepartmentOut(Out):
    id: int = Field(description="WeCom's department id")
    corp_id: str
    name: str
    parent_id: int | None
    order: int
    leaders: list[str]
    depth: int = Field(description="0 for a root; the list is in tree order")


class StaffQuery(PageQuery, CorpQuery):
    department: Id | None = Field(None, description="this department and those below it")
    status: StaffStatus | None = None
    keyword: str | None = Field(None, description="name, userid or position")


class StaffOut(Out):
    userid: str
    corp_id: str
    name: str
    department: list[int]
    status: str
    position: str
    manager_userid: str | None
    mobile: str = Field(description="masked (138****0000) below super_admin")
    resigned_at: dt.datetime | None


class DirectorySync(CorpBody):
    app: str | None = Field(None, max_length=64, description="the app slug whose secret reads the directory")
