"""The data-scope matrix (issue 17, Done when): for each of the four data scopes, the member `viewer` (华东)
sees exactly the customers of the right members among a sub-department's, a sibling department's and the
parent department's, through the customer list, the detail, an export, the bot and the message search
(tests/access_support.py draws the chart). A member without a role holds 基础角色: their own, as before."""

from __future__ import annotations

import pytest

from access_support import build_org, give_role
from bot_support import Bot

EVERYONE = {"viewer", "sub", "sibling", "parent"}
CASES = {  # data scope (departments chosen) → whose customers viewer sees
    "basic": (None, None, {"viewer"}),
    "self": ("self", None, {"viewer"}),
    "department": ("department", None, {"viewer", "sub"}),
    "departments": ("departments", [4], {"viewer", "sibling"}),  # 自定义: 华南 chosen
    "departments-parent": ("departments", [2], EVERYONE),  # 销售部 and below
    "all": ("all", None, EVERYONE),
}


@pytest.fixture
def org(app, runtime):  # type: ignore[no-untyped-def]
    return build_org(runtime)


@pytest.mark.parametrize("case", CASES)
def test_each_data_scope_shows_exactly_its_customers_everywhere(case, app, client, runtime, org, make_token,
                                                                sender, crypto) -> None:
    scope, departments, expected = CASES[case]
    if scope is not None:
        give_role(app, runtime, "viewer", scope, departments)
    viewer = make_token("member", userid="viewer")
    names = {f"客户-{u}" for u in expected}
    hidden = {f"客户-{u}" for u in EVERYONE - expected}

    listed = client.get("/api/v1/customers?page_size=200", headers=viewer)
    assert listed.status_code == 200
    assert {c["name"] for c in listed.get_json()["items"]} == names

    for userid, customer_id in org.items():
        assert client.get(f"/api/v1/customers/{customer_id}", headers=viewer).status_code == (
            200 if userid in expected else 404)

    export = client.get("/api/v1/follow-ups/export", headers=viewer)
    assert export.status_code == 200
    text = export.get_data(as_text=True)
    assert all(f"跟进 {n}" in text for n in names) and not any(f"跟进 {n}" in text for n in hidden)

    found = client.get("/api/v1/messages?q=问候&page_size=200", headers=viewer)
    assert found.status_code == 200
    assert {m["content"] for m in found.get_json()["items"]} == {f"问候 {n}" for n in names}

    answer = Bot(sender, crypto).ask("/客户 客户-", userid="viewer") or ""
    assert f"找到 {len(names)} 个客户" in answer
    assert all(n in answer for n in names) and not any(n in answer for n in hidden)


def test_several_roles_add_their_scopes_up(app, client, runtime, org, make_token) -> None:
    give_role(app, runtime, "viewer", "department")
    give_role(app, runtime, "viewer", "departments", [4])
    r = client.get("/api/v1/members/viewer/permissions", headers=make_token("admin"))
    assert r.status_code == 200
    assert r.get_json()["userids"] == ["sibling", "sub", "viewer"]
    listed = client.get("/api/v1/customers", headers=make_token("member", userid="viewer")).get_json()
    assert {c["name"] for c in listed["items"]} == {"客户-viewer", "客户-sub", "客户-sibling"}


def test_a_department_leader_keeps_acting_for_their_subordinates_under_the_basic_role(
        app, client, runtime, org, make_token) -> None:
    """Before roles a 部门负责人 wrote plans for the members of the departments they lead; they still do,
    while their customer list stays their own (the basic role's scope)."""
    from sqlalchemy import update

    from models import Department
    with runtime.WriteSession.begin() as s:
        s.execute(update(Department).where(Department.dept_id == 3).values(leaders=["viewer"]))
    viewer = make_token("member", userid="viewer")
    r = client.post("/api/v1/plans", headers=viewer, json={"userid": "sub", "text": "拜访",
                                                           "starts_at": "2030-01-01T02:00:00Z"})
    assert r.status_code == 201, r.get_json()
    assert client.post("/api/v1/plans", headers=viewer, json={"userid": "sibling", "text": "拜访",
                                                              "starts_at": "2030-01-01T02:00:00Z"}).status_code == 403
    listed = client.get("/api/v1/customers", headers=viewer).get_json()
    assert {c["name"] for c in listed["items"]} == {"客户-viewer"}
