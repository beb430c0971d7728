"""The group profile page (its scope: a member's groups only), the sidebar configuration (9.11.1) as the
customer page honours it, and the auxiliary components: created with their secret shown once, opened from
the sidebar with the customer's ids signed as documented (the worked example; an expired or altered one is
refused by the documented check)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select

import group_world
from customer_world import all_rows
from models import AuditLog
from models.sidebar import SidebarComponent
from rules.component_signature import sign, signature, signed_string, verify
from sidebar_support import build_world, sign_in
from support import CORP_ID

EXAMPLE = {"corp_id": "ww0123456789abcdef", "external_userid": "wmEXAMPLE0001", "userid": "zhangsan",
           "timestamp": "1764403200", "expires": "1764403500"}
CSRF = "X-CSRF-Token"
EXAMPLE_SIGNATURE = "6624a83a932aa0902cbb0bdd3776ee7dd1065e484dd0eb7cf8a334c2795ea72a"


@pytest.fixture
def world(sender, client, runtime, fake_wecom, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    admin = make_token("admin", name="setup")
    ids = build_world(sender, client, runtime, fake_wecom.url, admin)
    return {**ids, "admin": admin, "csrf": sign_in(client, fake_wecom.url)}


# -- the group page -------------------------------------------------------------------------------------------
@pytest.fixture
def groups(client, runtime, fake_wecom) -> group_world.World:  # type: ignore[no-untyped-def]
    built = group_world.build(runtime)
    sign_in(client, fake_wecom.url, "zhangsan")
    return built


def test_the_group_page_shows_owner_size_tags_moves_and_portrait(client, make_token, groups) -> None:
    admin = make_token("admin", name="setup")
    tag_group = client.post("/api/v1/group-tag-groups", headers=admin, json={
        "corp_id": CORP_ID, "name": "群类型", "tags": [{"name": "销售群"}]})
    assert tag_group.status_code == 201, tag_group.get_json()
    tag_id = tag_group.get_json()["tags"][0]["id"]
    assert client.post("/api/v1/groups/tags", headers=admin, json={
        "corp_id": CORP_ID, "chat_ids": ["wrG1"], "add": [tag_id]}).status_code == 200
    r = client.get("/sidebar/group?chat_id=wrG1")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for shown in ("销售一群", "群主：张三", "销售群", "群画像（近 7 天）", "入群", "退群", "wmC", "扫码入群"):
        assert shown in html, shown
    assert '<b id="size-total">4</b>' in html and '<b id="size-external">3</b>' in html
    assert '<b id="size-staff">1</b>' in html
    assert "男 / 女 / 未知" in html and "1 / 1 / 0" in html  # wmA male, wmB female: the customers in it now


@pytest.mark.parametrize("chat_id", ["wrG2", "wrG9", "wrNoSuchGroup", "x" * 65])
def test_a_group_outside_the_members_scope_is_a_404_page(client, groups, chat_id) -> None:
    r = client.get(f"/sidebar/group?chat_id={chat_id}")  # lisi's group, another corp's, none, too long
    assert r.status_code == 404 and "这个客户群不在你的客户群列表中" in r.get_data(as_text=True)
    assert "VIP二群" not in r.get_data(as_text=True) and "外企群" not in r.get_data(as_text=True)


# -- the sidebar configuration --------------------------------------------------------------------------------
def test_the_customer_page_honours_the_configured_sections_and_rows(client, runtime, world) -> None:
    admin = world["admin"]
    default = client.get("/api/v1/sidebar/config", headers=admin).get_json()
    assert default["pages"] == ["customer", "group", "quick_replies", "materials", "components"]
    html = client.get("/sidebar/customer?external_userid=wmCustomer0001").get_data(as_text=True)
    assert html.index("我的标签") < html.index("客户信息") < html.index("客户动态")
    r = client.put("/api/v1/sidebar/config", headers=admin, json={
        "pages": ["customer"], "sections": ["timeline", "info", "tags"], "fields": ["added_at", "type"]})
    assert r.status_code == 200 and r.get_json()["sections"] == ["timeline", "info", "tags"]
    html = client.get("/sidebar/customer?external_userid=wmCustomer0001").get_data(as_text=True)
    assert html.index("客户动态") < html.index("客户信息") < html.index("我的标签")  # in the configured order
    assert html.index("添加时间") < html.index("客户类型")
    assert "跟进成员" not in html and "添加跟进记录" not in html and "辅助组件" not in html
    r = client.get("/sidebar/group?chat_id=wrG1")
    assert r.status_code == 404 and "管理员没有开放群详情页" in r.get_data(as_text=True)  # switched off
    r = client.put("/api/v1/sidebar/config", headers=admin, json={"pages": [], "sections": [], "fields": []})
    assert r.status_code == 200
    r = client.get("/sidebar/customer?external_userid=wmCustomer0001")
    assert r.status_code == 404 and "管理员没有开放客户详情页" in r.get_data(as_text=True)


def test_a_bad_configuration_is_refused_and_changes_nothing(client, runtime, world) -> None:
    admin = world["admin"]
    before = all_rows(runtime)
    for bad in ({"pages": ["customer", "customer"], "sections": [], "fields": []},
                {"pages": ["payroll"], "sections": [], "fields": []},
                {"pages": ["customer"], "sections": ["secrets"], "fields": []},
                {"pages": ["customer"], "sections": ["tags"]}):
        assert client.put("/api/v1/sidebar/config", headers=admin, json=bad).status_code == 422, bad
    assert all_rows(runtime) == before
    member = {CSRF: world["csrf"]}  # not an admin route for the sidebar session
    assert client.put("/api/v1/sidebar/config", headers=member, json={"pages": [], "sections": [],
                                                                       "fields": []}).status_code == 401


# -- auxiliary components -------------------------------------------------------------------------------------
def test_the_documented_worked_example() -> None:
    assert signed_string(EXAMPLE) == ("corp_id=ww0123456789abcdef&expires=1764403500&external_userid=wmEXAMPLE0001"
                                      "&timestamp=1764403200&userid=zhangsan")
    assert signature("cs_example_secret", EXAMPLE) == EXAMPLE_SIGNATURE
    signed = {**EXAMPLE, "signature": EXAMPLE_SIGNATURE}
    assert verify("cs_example_secret", signed, now=1764403300)
    assert not verify("cs_example_secret", signed, now=1764403501)  # expired
    assert not verify("another_secret", signed, now=1764403300)
    assert not verify("cs_example_secret", {**signed, "userid": "lisi"}, now=1764403300)  # altered
    assert not verify("cs_example_secret", {**signed, "expires": "1764503500"}, now=1764403300)  # stretched
    assert not verify("cs_example_secret", {k: v for k, v in signed.items() if k != "userid"}, now=1764403300)
    fresh = sign("s", "ww1", "wm1", "u1", 1000)
    assert verify("s", fresh, 1300) and not verify("s", fresh, 1301)


def test_a_component_opens_with_the_customers_ids_signed(client, runtime, world) -> None:
    admin = world["admin"]
    r = client.post("/api/v1/sidebar/components", headers=admin, json={
        "name": "订单查询", "url": "https://erp.example.com/orders?from=scrm#top", "position": 1})
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    secret, component = created["secret"], created["id"]
    listed = client.get("/api/v1/sidebar/components", headers=admin).get_json()
    assert listed["items"][0]["name"] == "订单查询" and "secret" not in listed["items"][0]  # shown once
    with runtime.Session() as s:
        assert secret not in str(s.scalars(select(AuditLog.detail)).all())
    html = client.get("/sidebar/customer?external_userid=wmCustomer0001").get_data(as_text=True)
    cid = world["wmCustomer0001"]
    assert f'href="/sidebar/components/{component}?customer_id={cid}"' in html and "订单查询" in html
    r = client.get(f"/sidebar/components/{component}?customer_id={cid}")
    assert r.status_code == 302
    parts = urlsplit(r.headers["Location"])
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "erp.example.com", "/orders", "top")
    params = dict(parse_qsl(parts.query))
    assert params["from"] == "scrm" and params["corp_id"] == CORP_ID
    assert (params["external_userid"], params["userid"]) == ("wmCustomer0001", "zhangsan")
    assert int(params["expires"]) - int(params["timestamp"]) == 300
    assert verify(secret, params, int(params["timestamp"]) + 10)
    assert not verify(secret, params, int(params["expires"]) + 1)
    # another member's customer, an unknown one, a deleted component: no signed ids
    for url in (f"/sidebar/components/{component}?customer_id={world['wmCustomer0002']}",
                f"/sidebar/components/{component}?customer_id=abc", f"/sidebar/components/{component}"):
        assert client.get(url).status_code == 404, url
    assert client.delete(f"/api/v1/sidebar/components/{component}", headers=admin).status_code == 200
    assert client.get(f"/sidebar/components/{component}?customer_id={cid}").status_code == 404


def test_bad_components_are_refused(client, runtime, world) -> None:
    admin = world["admin"]
    before = all_rows(runtime)
    for bad in ({"name": "x", "url": "javascript:alert(1)"}, {"name": "", "url": "https://a.example.com"},
                {"name": "x" * 31, "url": "https://a.example.com"}, {"name": "x", "url": "ftp://a.example.com/x"}):
        assert client.post("/api/v1/sidebar/components", headers=admin, json=bad).status_code == 422, bad
    assert client.patch("/api/v1/sidebar/components/99999", headers=admin, json={"name": "y"}).status_code == 404
    assert all_rows(runtime) == before
    with runtime.Session() as s:
        assert s.scalar(select(SidebarComponent.id)) is None
