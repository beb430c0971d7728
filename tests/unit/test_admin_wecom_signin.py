"""Signing in to the dashboard through WeCom (web/admin/oauth.py): the sign-in page's link, the fake WeCom's
authorize page and auth/getuserinfo over HTTP, the callback's checks (state bound to the browser and spent
once, a member of our directory, system on, a role that may read the figures), and the session cookie the
token login sets, holding the member: the page's API reads are theirs, within their data scope."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from models import AccessRole, MemberRole, MemberSeat, Staff
from sidebar_support import authorize, build_world, choose
from support import AGENT_ID, CORP_ID

START = "/admin/login/wecom"


@pytest.fixture
def world(sender, client, runtime, fake_wecom, make_token) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return build_world(sender, client, runtime, fake_wecom.url, make_token("admin", name="setup"))


def role(runtime, userid: str, permissions: dict[str, list[str]], scope: str = "all") -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        made = AccessRole(corp_id=CORP_ID, name=f"角色{userid}", permissions=permissions, data_scope=scope)
        s.add(made)
        s.flush()
        s.add(MemberRole(corp_id=CORP_ID, userid=userid, role_id=made.id))


def signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    return client.get_cookie("scrm_admin", path="/") is not None


def test_the_sign_in_page_links_to_wecom_which_is_sent_the_corp_agent_callback_and_a_state(client, world) -> None:  # type: ignore[no-untyped-def]
    assert f'href="{START}"' in client.get("/admin/login").get_data(as_text=True)
    r = client.get(START)
    assert r.status_code == 302
    url = urlsplit(r.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/connect/oauth2/authorize"
    assert (query["appid"], query["agentid"], query["scope"]) == (CORP_ID, str(AGENT_ID), "snsapi_base")
    assert query["redirect_uri"] == "http://localhost/admin/oauth/callback" and len(query["state"]) >= 32
    state = client.get_cookie("scrm_admin_state", path="/admin/oauth")
    assert state is not None and state.http_only and state.same_site == "Lax"


def test_a_member_signs_in_with_the_token_logins_cookie_and_reads_their_own_figures(  # type: ignore[no-untyped-def]
        client, runtime, fake_wecom, world) -> None:
    choose(fake_wecom.url, userid="zhangsan")
    r = client.get(authorize(client, START))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert re.search(r'http-equiv="refresh" content="0;url=/admin/"', r.get_data(as_text=True))
    cookie = r.headers["Set-Cookie"]
    assert "scrm_admin=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/;" in cookie
    assert client.get_cookie("scrm_admin_state", path="/admin/oauth") is None
    page = client.get("/admin/")
    assert page.status_code == 200 and "zhangsan" in page.get_data(as_text=True)
    assert client.get("/api/v1/stats/customers").get_json()["userids"] == ["zhangsan"]
    assert client.put("/api/v1/stats/visit-settings", json={"extra_days": [2]}).status_code == 401  # reads only
    with runtime.WriteSession.begin() as s:  # leaving the directory ends the session
        s.execute(update(Staff).where(Staff.userid == "zhangsan").values(status="resigned"))
    assert client.get("/api/v1/stats/customers").status_code == 401
    assert client.get("/admin/").status_code == 303


def test_a_role_that_may_read_the_figures_signs_in_with_its_scope(client, runtime, fake_wecom, world) -> None:  # type: ignore[no-untyped-def]
    role(runtime, "lisi", {"stats": ["read"], "funnel": ["read"]}, scope="all")
    choose(fake_wecom.url, userid="lisi")
    assert client.get(authorize(client, START)).status_code == 200
    assert client.get("/api/v1/stats/customers").get_json()["userids"] is None  # the whole corp
    assert client.get("/api/v1/customers").status_code == 403  # nothing past the role


def test_a_member_whose_roles_may_not_read_the_figures_is_refused(client, runtime, fake_wecom, world) -> None:  # type: ignore[no-untyped-def]
    role(runtime, "lisi", {"customers": ["read", "write"]})
    choose(fake_wecom.url, userid="lisi")
    r = client.get(authorize(client, START))
    assert r.status_code == 403 and "无权访问" in r.get_data(as_text=True)
    assert not signed_in(client)


def test_a_member_whose_system_is_off_is_refused(client, runtime, fake_wecom, world) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        s.add(MemberSeat(corp_id=CORP_ID, userid="zhangsan", system_on=False))
    choose(fake_wecom.url, userid="zhangsan")
    r = client.get(authorize(client, START))
    assert r.status_code == 403 and "系统状态已关闭" in r.get_data(as_text=True)
    assert not signed_in(client)


@pytest.mark.parametrize("who", [{"openid": "oWeChatUser0001"}, {"userid": "wangwu"}])
def test_a_wechat_user_or_someone_outside_our_directory_is_refused(client, fake_wecom, world, who) -> None:  # type: ignore[no-untyped-def]
    choose(fake_wecom.url, **who)
    r = client.get(authorize(client, START))
    assert r.status_code == 403 and not signed_in(client)
    assert client.get("/api/v1/stats/customers").status_code == 401


def test_a_forged_state_or_another_browsers_is_refused_before_the_code_is_spent(  # type: ignore[no-untyped-def]
        app, client, fake_wecom, world) -> None:
    choose(fake_wecom.url, userid="zhangsan")
    back = authorize(client, START)
    r = client.get(re.sub(r"state=[^&]+", "state=forged", back))
    assert r.status_code == 400 and "登录已失效" in r.get_data(as_text=True)
    stranger = app.test_client()
    assert stranger.get(back).status_code == 400 and not signed_in(stranger)
    assert not signed_in(client) and fake_wecom.calls("auth/getuserinfo") == []


def test_a_replayed_callback_is_refused_even_with_the_state_cookie(app, client, fake_wecom, world) -> None:  # type: ignore[no-untyped-def]
    choose(fake_wecom.url, userid="zhangsan")
    back = authorize(client, START)
    state = client.get_cookie("scrm_admin_state", path="/admin/oauth").value
    assert client.get(back).status_code == 200
    thief = app.test_client()
    thief.set_cookie("scrm_admin_state", state, path="/admin/oauth")
    r = thief.get(back)
    assert r.status_code == 400 and "已经用过" in r.get_data(as_text=True) and not signed_in(thief)
    assert len(fake_wecom.calls("auth/getuserinfo")) == 1


def test_the_sidebars_state_does_not_sign_in_to_the_dashboard(client, fake_wecom, world) -> None:  # type: ignore[no-untyped-def]
    choose(fake_wecom.url, userid="zhangsan")
    back = authorize(client, "/sidebar/")  # a sidebar sign-in's code and state, sent to the dashboard's callback
    r = client.get("/admin/oauth/callback?" + urlsplit(back).query)
    assert r.status_code == 400 and not signed_in(client)
