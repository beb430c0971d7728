"""Whose figures the sales reports (funnel, targets, follow-up counts) may show: 003 仪表盘 "all results are
the data the user has the right to see". Admin and super_admin tokens see their corp; a member sees
themself and, when they lead departments (Department.leaders), the members of those departments and their
sub-departments. A report is for the caller by default, or for `userid`, `department` (with its
sub-departments) or `all` (everyone the caller may see); asking past that is a 403, an unknown department
or member a 404."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from sqlalchemy.orm import Session

from models.directory import OrgChart
from web.access import access
from web.errors import ApiError


class Directory(OrgChart):
    """The org chart (models/directory.py) as the reports read it: a department the corp lacks is a 404."""

    def subtree(self, root: int) -> set[int]:
        """`root` and its sub-departments (404 when the corp has no such department)."""
        if root not in self.leaders:
            raise ApiError(404, "not_found", f"no department {root} in this corp")
        return self.below({root})


@dataclass(frozen=True)
class Reach:
    """What the caller may see in a corp: None is everything."""

    userids: frozenset[str] | None
    depts: frozenset[int] | None


def reach(directory: Directory) -> Reach:
    """The members and departments the caller reports on: their data scope (web/access.py) and the
    departments they lead (部门负责人) with their members."""
    principal = g.principal
    found = access()
    if found is None or found.userids is None:
        return Reach(None, None)
    depts = directory.led_by(str(principal.userid)) | (found.departments or frozenset())
    return Reach(frozenset(directory.members_of(depts) | found.userids), frozenset(depts))


def members(s: Session, corp_id: str, userid: str | None, dept_id: int | None, everyone: bool) -> frozenset[str] | None:
    """The owners/writers a report counts (None: the whole corp), within the caller's reach."""
    if sum((userid is not None, dept_id is not None, everyone)) > 1:
        raise ApiError(400, "bad_request", "userid: give one of userid, department and all",
                       {"userid": "give one of userid, department and all"})
    directory = Directory.load(s, corp_id)
    seen = reach(directory)
    if everyone:
        return seen.userids
    if dept_id is not None:
        depts = directory.subtree(dept_id)
        if seen.depts is not None and not depts <= seen.depts:
            raise ApiError(403, "forbidden", f"department {dept_id} is not one you lead")
        return frozenset(directory.members_of(depts))
    if userid is None:
        if g.principal.userid is None:
            return None  # an admin token without a member: its corp
        userid = g.principal.userid
    if seen.userids is not None and userid not in seen.userids:
        raise ApiError(403, "forbidden", f"{userid} is neither you nor a member of a department you lead")
    if userid != g.principal.userid and userid not in directory.staff:
        raise ApiError(404, "not_found", f"no member {userid} in this corp")
    return frozenset({userid})
