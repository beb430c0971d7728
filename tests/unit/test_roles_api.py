"""Roles over the admin API (004 §2.2): CRUD by a super_admin (an admin reads), bad input refused with
nothing changed, additive assignment, permissions enforced per area and action on every route (a role
without export gets 403 on every export route of the url map), and seats (系统状态) refusing the API, the
bot and the sidebar."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from access_support import build_org, give_role
from bot_support import Bot
from models import AuditLog, BotReply, CorpSettings
from models.access import SYSTEM_OFF, AccessRole, MemberRole, MemberSeat
from sidebar_support import build_world, sign_in
from support import CORP_ID
from web.access import route_action, route_area


def rows(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def org(app, runtime):  # type: ignore[no-untyped-def]
    return build_org(runtime)


# -- CRUD -----------------------------------------------------------------------------------------------------
def test_a_super_admin_creates_edits_assigns_and_deletes_a_role(client, runtime, org, make_token) -> None:
    boss, admin = make_token("super_admin"), make_token("admin")
    body = {"name": "华东主管", "permissions": {"customers": ["read", "write"], "follow-ups": ["read"]},
            "data_scope": "department"}
    assert client.post("/api/v1/roles", headers=admin, json=body).status_code == 403
    r = client.post("/api/v1/roles", headers=boss, json=body)
    assert r.status_code == 201, r.get_json()
    role = r.get_json()
    assert (role["name"], role["data_scope"], role["members"], role["corp_id"]) == ("华东主管", "department", 0, CORP_ID)
    assert role["permissions"] == {"customers": ["read", "write"], "follow-ups": ["read"]}

    url = f"/api/v1/roles/{role['id']}"
    patched = client.patch(url, headers=boss, json={"data_scope": "departments", "departments": [4]})
    assert patched.status_code == 200 and patched.get_json()["departments"] == [4]

    assert client.post(f"{url}/members", headers=boss, json={"userids": ["viewer"]}).get_json()["added"] == 1
    again = client.post(f"{url}/members", headers=boss, json={"userids": ["viewer", "sub"]}).get_json()
    assert again["added"] == 1 and again["userids"] == ["sub", "viewer"]  # additive: viewer keeps it, sub gets it
    listed = client.get("/api/v1/roles", headers=admin).get_json()
    assert [(x["name"], x["members"]) for x in listed["items"]] == [("华东主管", 2)]

    perms = client.get("/api/v1/members/viewer/permissions", headers=admin).get_json()
    assert perms["roles"] == ["华东主管"] and perms["data_scopes"] == ["departments"]
    assert perms["userids"] == ["sibling", "viewer"] and perms["system_on"] is True

    assert client.delete(f"{url}/members/sub", headers=boss).get_json()["userids"] == ["viewer"]
    assert client.delete(f"{url}/members/sub", headers=boss).status_code == 404
    assert client.delete(url, headers=boss).status_code == 200
    assert rows(runtime, MemberRole) == 0
    basic = client.get("/api/v1/members/viewer/permissions", headers=admin).get_json()
    assert (basic["roles"], basic["permissions"], basic["userids"]) == (["基础角色"], None, ["viewer"])
    with runtime.Session() as s:
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.area == "role").order_by(AuditLog.id)))
    assert actions == ["role.create", "role.update", "role.assign", "role.assign", "role.unassign", "role.delete"]


@pytest.mark.parametrize("body,status,field", [
    ({"name": "x" * 31}, 422, "name"),
    ({"name": ""}, 422, "name"),
    ({"name": "基础角色"}, 422, "name"),
    ({"name": "r", "permissions": {"nowhere": ["read"]}}, 422, "permissions"),
    ({"name": "r", "permissions": {"customers": ["fly"]}}, 422, None),
    ({"name": "r", "data_scope": "departments"}, 422, "departments"),
    ({"name": "r", "data_scope": "departments", "departments": [99]}, 422, "departments"),
    ({"name": "r", "data_scope": "self", "departments": [4]}, 422, "departments"),
    ({"name": "r", "data_scope": "everyone"}, 422, None),
    ({"name": "已有"}, 409, None),
])
def test_a_bad_role_is_refused_and_nothing_changes(client, runtime, org, make_token, body, status, field) -> None:
    boss = make_token("super_admin")
    assert client.post("/api/v1/roles", headers=boss, json={"name": "已有"}).status_code == 201
    before = rows(runtime, AccessRole)
    r = client.post("/api/v1/roles", headers=boss, json=body)
    assert r.status_code == status, r.get_json()
    if field:
        assert field in (r.get_json()["error"].get("fields") or {}), r.get_json()
    assert rows(runtime, AccessRole) == before


def test_assigning_an_unknown_member_is_refused_whole(client, runtime, org, make_token) -> None:
    boss = make_token("super_admin")
    role = client.post("/api/v1/roles", headers=boss, json={"name": "r"}).get_json()
    r = client.post(f"/api/v1/roles/{role['id']}/members", headers=boss, json={"userids": ["viewer", "ghost"]})
    assert r.status_code == 422 and "ghost" in r.get_json()["error"]["message"]
    assert rows(runtime, MemberRole) == 0


def test_a_member_sees_only_their_own_permissions(client, org, make_token) -> None:
    viewer = make_token("member", userid="viewer")
    assert client.get("/api/v1/members/viewer/permissions", headers=viewer).status_code == 200
    assert client.get("/api/v1/members/sub/permissions", headers=viewer).status_code == 403


# -- permissions per area and action --------------------------------------------------------------------------
def test_route_areas_and_actions_are_derived_from_the_route() -> None:
    assert route_area("/api/v1/customers/<id:customer_id>") == "customers"
    assert route_area("/sidebar/customer") is None
    assert route_action("GET", "/api/v1/customers", "api_customers.list_customers") == "read"
    assert route_action("PATCH", "/api/v1/roles/<id:role_id>", "x.update") == "write"
    assert route_action("DELETE", "/api/v1/roles/<id:role_id>", "x.delete") == "delete"
    assert route_action("GET", "/api/v1/follow-ups/export", "x.y") == "export"
    assert route_action("POST", "/api/v1/exports", "api_jobs.start_export") == "export"


def test_a_role_without_an_action_gets_403_on_that_area(app, client, runtime, org, make_token) -> None:
    give_role(app, runtime, "viewer", "self", permissions={"customers": ["read"]})
    viewer = make_token("member", userid="viewer")
    assert client.get("/api/v1/customers", headers=viewer).status_code == 200
    r = client.put(f"/api/v1/customers/{org['viewer']}/fields", headers=viewer, json={"x": "y"})
    assert r.status_code == 403 and "customers" in r.get_json()["error"]["message"]
    assert client.get("/api/v1/follow-ups", headers=viewer).status_code == 403


def _routes(app, want_export: bool, members_only: bool = True) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, url) of every admin-API route (a member token may call) whose action is export (or not)."""
    out = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        role = getattr(view, "required_role", None)
        if role is None or (members_only and role.value != "member") or route_area(rule.rule) is None:
            continue
        url = re.sub(r"<id:[^>]+>", "1", re.sub(r"<(?!id:)[^>]+>", "zhangsan", rule.rule))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (route_action(method, rule.rule, rule.endpoint) == "export") == want_export:
                out.append((method, url))
    return out


def test_a_role_without_export_gets_403_on_every_export_route(app, client, runtime, org, make_token) -> None:
    from web.access import areas

    with app.app_context():
        no_export = {a: ["read", "write", "delete"] for a in areas()}
    give_role(app, runtime, "viewer", "all", permissions=no_export)
    viewer = make_token("member", userid="viewer")
    exports = _routes(app, want_export=True, members_only=False)
    assert {("GET", "/api/v1/follow-ups/export"), ("GET", "/api/v1/customers/export.csv")} <= set(exports)
    for method, url in exports:
        r = client.open(url, method=method, headers=viewer, json={})
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden", (method, url, r.status_code)
    for method, url in _routes(app, want_export=True):  # those open to members: refused for the role
        assert "export" in client.open(url, method=method, headers=viewer, json={}).get_json()["error"]["message"]
    assert client.get("/api/v1/follow-ups", headers=viewer).status_code == 200  # reading still works


def test_the_basic_role_keeps_every_member_route_open(app, client, org, make_token) -> None:
    """A member without a role (基础角色) is refused no route for its permissions: today's behaviour."""
    viewer = make_token("member", userid="viewer")
    for method, url in _routes(app, want_export=True) + _routes(app, want_export=False)[:40]:
        r = client.open(url, method=method, headers=viewer, json={})
        text = r.get_data(as_text=True)  # read whole: a streamed export holds its request context until then
        assert not (r.status_code == 403 and "您无此操作权限" in text), (method, url)


# -- seats ----------------------------------------------------------------------------------------------------
def test_switching_on_past_the_seat_limit_is_refused(client, runtime, org, make_token) -> None:
    boss = make_token("super_admin")
    assert client.put("/api/v1/seats", headers=boss, json={"limit": 1}).get_json() == {
        "corp_id": CORP_ID, "limit": 1, "used": 0}
    viewer = make_token("member", userid="viewer")
    # with a limit, a member not switched on is off (the manual: new members start off)
    r = client.get("/api/v1/customers", headers=viewer)
    assert r.status_code == 403 and r.get_json()["error"] == {"code": "system_off", "message": SYSTEM_OFF}
    assert client.put("/api/v1/members/viewer/system", headers=boss, json={"on": True}).get_json()["system_on"]
    assert client.get("/api/v1/customers", headers=viewer).status_code == 200
    r = client.put("/api/v1/members/sub/system", headers=boss, json={"on": True})
    assert r.status_code == 409 and "seat limit is 1" in r.get_json()["error"]["message"]
    with runtime.Session() as s:
        assert s.scalar(select(MemberSeat.system_on).where(MemberSeat.userid == "sub")) in (None, False)
    assert client.put("/api/v1/members/viewer/system", headers=boss, json={"on": False}).status_code == 200
    assert client.put("/api/v1/members/sub/system", headers=boss, json={"on": True}).status_code == 200
    assert client.get("/api/v1/seats", headers=make_token("admin")).get_json()["used"] == 1
    assert client.put("/api/v1/members/ghost/system", headers=boss, json={"on": True}).status_code == 404
    assert client.put("/api/v1/seats", headers=make_token("admin"), json={"limit": 5}).status_code == 403
    with runtime.Session() as s:
        assert s.scalar(select(CorpSettings.seat_limit)) == 1


def test_a_member_with_the_system_off_is_refused_by_token_and_bot(client, runtime, org, make_token, sender,
                                                                  crypto) -> None:
    boss, viewer = make_token("super_admin"), make_token("member", userid="viewer")
    assert client.put("/api/v1/members/viewer/system", headers=boss, json={"on": False}).status_code == 200
    assert client.get("/api/v1/customers", headers=viewer).get_json()["error"]["code"] == "system_off"
    assert Bot(sender, crypto).ask("/客户 客户-", userid="viewer") == SYSTEM_OFF
    with runtime.Session() as s:
        assert s.scalar(select(BotReply.command).where(BotReply.userid == "viewer")) == "system_off"
    assert "客户-sub" in (Bot(sender, crypto).ask("/客户 客户-", userid="sub") or "")  # others unaffected


def test_a_member_with_the_system_off_is_refused_by_the_sidebar(client, runtime, fake_wecom, make_token,
                                                                sender) -> None:
    admin = make_token("admin", name="setup")
    build_world(sender, client, runtime, fake_wecom.url, admin)
    sign_in(client, fake_wecom.url)
    assert client.get("/sidebar/customer?external_userid=wmCustomer0001").status_code == 200
    assert client.put("/api/v1/members/zhangsan/system", headers=make_token("super_admin"),
                      json={"on": False}).status_code == 200
    r = client.get("/sidebar/customer?external_userid=wmCustomer0001")
    assert r.status_code == 403 and SYSTEM_OFF in r.get_data(as_text=True)
    assert "王小明" not in r.get_data(as_text=True)
