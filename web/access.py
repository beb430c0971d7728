"""The one scope function: what the caller may do (permissions per API area and action) and whose data they
may see (a data scope, as the set of staff userids whose records are visible), from `g.principal`.

Every read of customers, groups, companies, contacts, leads, pools, hand-overs and messages asks
`visible_userids(session)` (web/api_customers.py `_scoped`, web/sales_scope.py `members_in_scope`,
web/group_scope.py, web/org_scope.py, web/pool_scope.py, web/api_transfers.py, web/api_messages.py, the
sidebar through those); the bot asks `models.access.member_access` for the staff member who typed. Admin and
super_admin tokens see their corps whole (None) and are not limited by roles.

Permissions are enforced centrally (web/auth.py `require`, for member tokens): a route's area is the first
path segment after /api/v1 (`/api/v1/customers/<id>` → `customers`), its action the method (GET/HEAD
read, POST/PUT/PATCH write, DELETE delete), except that a route whose path or view name says `export` is the
`export` action, whatever its method. `GET /api/v1/roles/areas` lists every area with its routes.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from sqlalchemy.orm import Session

from models.access import SYSTEM_OFF, Access, Action, member_access, system_on
from models.directory import led_members
from web.errors import ApiError

API_PREFIX = "/api/v1/"
NO_PERMISSION = "您无此操作权限，请联系管理员"


def route_area(rule: str) -> str | None:
    """The permission area of a url rule: its first segment after /api/v1; None outside the admin API."""
    if not rule.startswith(API_PREFIX):
        return None
    first = rule[len(API_PREFIX):].split("/", 1)[0]
    return first if first and not first.startswith("<") else None


def route_action(method: str, rule: str, endpoint: str) -> str:
    if "export" in rule.lower() or "export" in endpoint.lower():
        return Action.export.value
    if method in ("GET", "HEAD", "OPTIONS"):
        return Action.read.value
    return Action.delete.value if method == "DELETE" else Action.write.value


def areas() -> dict[str, list[str]]:
    """Every area of the admin API → its routes (`METHOD /path`), from the url map."""
    found: dict[str, list[str]] = {}
    for rule in current_app.url_map.iter_rules():
        area = route_area(rule.rule)
        if area is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.setdefault(area, []).append(f"{method} {rule.rule}")
    return {area: sorted(routes) for area, routes in sorted(found.items())}


def access(session: Session | None = None) -> Access | None:
    """The caller's roles resolved (once per request); None: not a member (an admin or super_admin token)."""
    principal = g.principal
    if not principal.is_member:
        return None
    cached = g.get("access")
    if cached is None or cached[0] != principal:
        if session is not None:
            found = member_access(session, str(principal.corp_id), str(principal.userid))
        else:
            with current_app.extensions["scrm"].Session() as s:
                found = member_access(s, str(principal.corp_id), str(principal.userid))
        g.access = cached = (principal, found)
    return cached[1]


def visible_userids(session: Session | None = None) -> set[str] | None:
    """THE scope function: the userids of the caller's corp whose data the caller sees (a customer they
    follow, a group they own or are in, a company, contact or lead they own); None: the whole corp (an
    admin token, or a member holding a role with data scope `all`). A corp-bound token's corp bound stays
    the callers' own `corp_id` filter."""
    found = access(session)
    return None if found is None or found.userids is None else set(found.userids)


def acting_userids(session: Session, corp_id: str) -> set[str] | None:
    """Whose own records (plans, hand-overs, reports) the caller reads and writes: `visible_userids` plus,
    for a member, the members of the departments they lead (部门负责人 sees their 下属, as before roles)."""
    seen = visible_userids(session)
    if seen is None:
        return None
    return seen | led_members(session, corp_id, str(g.principal.userid))


def can(area: str, action: str) -> bool:
    """May the caller do `action` (read, write, delete, export) in `area`? Always, for a non-member token."""
    found = access()
    return found is None or found.can(area, action)


def check_member(session: Session) -> None:
    """For a member caller: 403 when their system is off (系统状态) or their roles do not allow this route's
    area and action."""
    principal = g.principal
    if not system_on(session, str(principal.corp_id), str(principal.userid)):
        raise ApiError(403, "system_off", SYSTEM_OFF)
    rule = request.url_rule
    if rule is None or (area := route_area(rule.rule)) is None:
        return
    action = route_action(request.method, rule.rule, request.endpoint or "")
    if not access(session).can(area, action):  # type: ignore[union-attr]
        raise ApiError(403, "forbidden", f"{NO_PERMISSION}: your roles do not allow {action} on {area}")


def describe(found: Access) -> dict[str, Any]:
    """What `GET /members/<userid>/permissions` shows of an Access."""
    return {"roles": list(found.roles),
            "permissions": None if found.permissions is None else {a: sorted(x) for a, x in found.permissions.items()},
            "data_scopes": list(found.scopes),
            "userids": None if found.userids is None else sorted(found.userids)}
