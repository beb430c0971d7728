"""A corp whose org chart has a parent, a department, its sub-department and a sibling, one member in each
with one customer (and a follow-up and a message on it), for the data-scope tests (issue 17).

    1 总部
    └── 2 销售部          parent   (member `parent`)
        ├── 3 华东        viewer's (member `viewer`)
        │   └── 5 上海    sub      (member `sub`)
        └── 4 华南        sibling  (member `sibling`)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from models import Customer, Department, FollowRelation, Message, Staff
from models.access import AccessRole, MemberRole
from models.db import utcnow
from models.followup import record_follow_up
from support import CORP_ID

DEPTS = {1: ("总部", None), 2: ("销售部", 1), 3: ("华东", 2), 5: ("上海", 3), 4: ("华南", 2)}
MEMBERS = {"viewer": 3, "sub": 5, "sibling": 4, "parent": 2}


def build_org(runtime: Any) -> dict[str, int]:
    """The chart, the four members, a customer 客户-<member> each follows: member → customer id."""
    at = utcnow() - dt.timedelta(hours=1)
    ids: dict[str, int] = {}
    with runtime.WriteSession.begin() as s:
        for dept_id, (name, parent) in DEPTS.items():
            s.add(Department(corp_id=CORP_ID, dept_id=dept_id, name=name, parent_id=parent))
        for userid, dept in MEMBERS.items():
            s.add(Staff(corp_id=CORP_ID, userid=userid, name=userid, department=[dept]))
            c = Customer(corp_id=CORP_ID, external_userid=f"wm-{userid}", name=f"客户-{userid}", owner_userid=userid)
            s.add(c)
            s.flush()
            s.add(FollowRelation(customer_id=c.id, corp_id=CORP_ID, userid=userid, added_at=at))
            s.add(Message(corp_id=CORP_ID, source="app", msgid=f"m-{userid}", external_userid=c.external_userid,
                          userid=userid, origin="staff", msgtype="text", content=f"问候 客户-{userid}", send_time=at))
            s.flush()
            record_follow_up(s, c, userid, f"跟进 客户-{userid}", at=at, via="api", source=f"test:{userid}",
                             actor="test")
            ids[userid] = c.id
    return ids


def give_role(app: Any, runtime: Any, userid: str, data_scope: str, departments: list[int] | None = None,
              permissions: dict[str, list[str]] | None = None, name: str | None = None) -> int:
    """A role with `data_scope` (every area's read/write/delete/export unless `permissions`), held by `userid`."""
    from web.access import areas

    with app.app_context():
        every = {a: ["read", "write", "delete", "export"] for a in areas()}
    with runtime.WriteSession.begin() as s:
        role = AccessRole(corp_id=CORP_ID, name=name or f"{data_scope}-{userid}", data_scope=data_scope,
                          departments=departments or [], permissions=every if permissions is None else permissions)
        s.add(role)
        s.flush()
        s.add(MemberRole(corp_id=CORP_ID, userid=userid, role_id=role.id))
        return role.id
