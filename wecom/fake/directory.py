"""The fake's address book questions: one corp's departments and members (`Directory`), and what one app
may see of them (`VisibleRange`).

WeCom shows an app only its visible range (可见范围, docs 96255/96260: "应用只能获取可见范围内的成员信息",
"应用须拥有指定部门的查看权限"): department/list lists the range's departments, user/list refuses a
department outside it, and user/get refuses a member outside it, with 60011 (global errcode table: no
privilege to access/modify contact/party/agent). A member nobody knows is 60111 instead, which is what
lets a client tell "deleted" from "not shown to this app".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from wecom.fake.errors import WeComError
from wecom.fake.seed import is_int

NO_PRIVILEGE = 60011
"""user/get, user/list or department/list of something outside the app's visible range."""


@dataclass
class Directory:
    """One corp's departments and who is in them, taken under the lock, for questions that span both."""

    departments: list[dict[str, Any]]  # seeded department/list records, in seed order
    member_departments: dict[str, set[int]]  # userid -> the departments it belongs to directly

    def known(self) -> set[int]:
        """Seeded departments, plus those members name without a seed (older seeds have no departments)."""
        return {dept["id"] for dept in self.departments}.union(*self.member_departments.values())

    def subtree(self, root: int) -> set[int]:
        """``root`` and every department below it, by the seeded ``parentid`` links."""
        children: dict[int, list[int]] = {}
        for dept in self.departments:
            children.setdefault(dept["parentid"], []).append(dept["id"])
        found: set[int] = set()
        todo = [root]
        while todo:
            dept_id = todo.pop()
            if dept_id not in found:
                found.add(dept_id)
                todo.extend(children.get(dept_id, []))
        return found

    def members_of(self, department_ids: Iterable[int], with_children: bool = True) -> set[str]:
        """Members of the given departments, and of their subdepartments unless ``with_children`` is False."""
        wanted = set(department_ids)
        if with_children:
            wanted = set().union(*(self.subtree(dept_id) for dept_id in wanted))
        return {userid for userid, depts in self.member_departments.items() if depts & wanted}



def department_ids(value: Any) -> set[int]:
    """A member's ``department`` list as ints (seeds may spell ids as strings)."""
    if not isinstance(value, list):
        return set()
    return {int(item) for item in value if is_int(item) or (isinstance(item, str) and item.isdigit())}


@dataclass(frozen=True)
class VisibleRange:
    """What one app (corpid, agentid) may see: members named one by one, and departments with their subtrees.
    An app without a range set sees the whole corp, as the fake always did."""

    users: frozenset[str]
    parties: frozenset[int]

    def departments(self, directory: Directory) -> set[int]:
        """The visible departments: each range department and every department below it."""
        return set().union(*(directory.subtree(dept_id) for dept_id in self.parties))

    def members(self, directory: Directory) -> set[str]:
        """The visible members: those named, and those in a visible department."""
        return set(self.users) | directory.members_of(self.parties)

    def check_department(self, directory: Directory, dept_id: int) -> None:
        """60011 unless ``dept_id`` is in range."""
        if dept_id not in self.departments(directory):
            raise WeComError(NO_PRIVILEGE)

    def check_member(self, directory: Directory, userid: str) -> None:
        """60011 unless ``userid`` is in range."""
        if userid not in self.members(directory):
            raise WeComError(NO_PRIVILEGE)
