"""Signing in to the sidebar through WeCom's OAuth (the fake WeCom's authorize page and auth/getuserinfo over
HTTP), the session cookie, and what a request without a session or without the CSRF token gets, on every
sidebar route of the url map."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select, update

from models import AuditLog, FollowUp, Staff
from sidebar_support import authorize, build_world, choose, sign_in
from support import AGENT_ID, CORP_ID

PUBLIC = {
    "/sidebar/oauth/callback": "where WeCom sends the browser to sign in: authenticated by state and code",
    "/sidebar/assets/<name>": "the pages' CSS and JS bundles: no data",
}
CSRF = "X-CSRF-Token"


@pytest.fixture
def world(sender, client, runtime, fake_wecom, make_token) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return build_world(sender, client, runtime, fake_wecom.url, make_token("admin", name="setup"))


def sidebar_routes(app: Any) -> list[tuple[str, str, Any]]:
    """(method, url with every path parameter filled, view) of every /sidebar route but the public ones."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/sidebar") and rule.rule not in PUBLIC:
            url = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((method, url, app.view_functions[rule.endpoint]))
    return out


def test_the_redirect_names_the_corp_agent_callback_and_a_state_bound_to_the_browser(client, world) -> None:
    r = client.get("/sidebar/customer?external_userid=wmCustomer0001")
    assert r.status_code == 302
    url = urlsplit(r.headers["Location"])
    assert url.path == "/connect/oauth2/authorize" and url.fragment == "wechat_redirect"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["appid"] == CORP_ID and query["agentid"] == str(AGENT_ID)
    assert (query["response_type"], query["scope"]) == ("code", "snsapi_base")
    assert query["redirect_uri"] == "http://localhost/sidebar/oauth/callback"
    assert len(query["state"]) >= 32
    cookie = client.get_cookie("scrm_sidebar_state", path="/sidebar/oauth")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    # another visit gets another state
    again = client.get("/sidebar/")
    assert parse_qs(urlsplit(again.headers["Location"]).query)["state"][0] != query["state"]


def test_sign_in_comes_back_to_the_page_with_a_session(client, fake_wecom, world) -> None:
    choose(fake_wecom.url, userid="zhangsan")
    back = authorize(client, "/sidebar/customer?external_userid=wmCustomer0001")
    r = client.get(back)
    assert r.status_code == 302 and r.headers["Location"] == "/sidebar/customer?external_userid=wmCustomer0001"
    session = client.get_cookie("scrm_sidebar", path="/sidebar")
    assert session is not None and session.http_only and session.same_site == "Lax" and session.expires
    assert client.get_cookie("scrm_sidebar_state", path="/sidebar/oauth") is None
    page = client.get("/sidebar/customer?external_userid=wmCustomer0001")
    assert page.status_code == 200 and "王小明" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-store"
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    [call] = fake_wecom.calls("auth/getuserinfo")
    assert call["errcode"] == 0


def test_the_session_cookie_is_secure_unless_configured_off(app, client, runtime, fake_wecom, world) -> None:
    plain = runtime.settings
    runtime.settings = plain.with_overrides(sidebar_secure_cookie=True)
    try:
        choose(fake_wecom.url, userid="zhangsan")
        r = client.get("/sidebar/")
        assert "Secure" in r.headers["Set-Cookie"]
    finally:
        runtime.settings = plain


def test_behind_a_tls_proxy_the_public_url_is_the_callback(client, runtime, fake_wecom, world) -> None:
    plain = runtime.settings
    runtime.settings = plain.with_overrides(public_url="https://scrm.example.com")
    try:
        r = client.get("/sidebar/")
        assert parse_qs(urlsplit(r.headers["Location"]).query)["redirect_uri"] == [
            "https://scrm.example.com/sidebar/oauth/callback"]
        sign_in(client, fake_wecom.url)
        signed = client.get("/sidebar/api/js-config", query_string={"url": "https://scrm.example.com/sidebar/"})
        assert signed.status_code == 200
        assert client.get("/sidebar/api/js-config", query_string={"url": "http://localhost/sidebar/"}).status_code == 400
    finally:
        runtime.settings = plain


def test_a_forged_state_is_refused(client, fake_wecom, world) -> None:
    choose(fake_wecom.url, userid="zhangsan")
    back = authorize(client)
    forged = re.sub(r"state=[^&]+", "state=forged-by-someone-else", back)
    r = client.get(forged)
    assert r.status_code == 400 and "登录已失效" in r.get_data(as_text=True)
    assert client.get_cookie("scrm_sidebar", path="/sidebar") is None
    assert fake_wecom.calls("auth/getuserinfo") == []  # refused before the code was spent


def test_a_state_from_another_browser_is_refused(app, client, fake_wecom, world) -> None:
    choose(fake_wecom.url, userid="zhangsan")
    back = authorize(client)
    r = app.test_client().get(back)  # the callback URL without the browser's state cookie
    assert r.status_code == 400 and fake_wecom.calls("auth/getuserinfo") == []


def test_a_replayed_callback_is_refused_even_with_the_cookie(app, client, fake_wecom, world) -> None:
    choose(fake_wecom.url, userid="zhangsan")
    back = authorize(client)
    state_cookie = client.get_cookie("scrm_sidebar_state", path="/sidebar/oauth").value
    assert client.get(back).status_code == 302
    thief = app.test_client()
    thief.set_cookie("scrm_sidebar_state", state_cookie, path="/sidebar/oauth")
    r = thief.get(back)
    assert r.status_code == 400 and "已经用过" in r.get_data(as_text=True)
    assert thief.get_cookie("scrm_sidebar", path="/sidebar") is None
    assert len(fake_wecom.calls("auth/getuserinfo")) == 1


def test_an_external_user_is_refused(client, fake_wecom, world) -> None:
    choose(fake_wecom.url, openid="oWeChatUser0001")
    r = client.get(authorize(client))
    assert r.status_code == 403 and "仅供本企业成员" in r.get_data(as_text=True)
    assert client.get_cookie("scrm_sidebar", path="/sidebar") is None


def test_a_member_unknown_to_our_directory_or_resigned_is_refused(client, runtime, fake_wecom, world) -> None:
    choose(fake_wecom.url, userid="wangwu")  # a member WeCom knows, our directory does not
    assert client.get(authorize(client)).status_code == 403
    with runtime.WriteSession.begin() as s:
        s.execute(update(Staff).where(Staff.userid == "lisi").values(status="resigned"))
    choose(fake_wecom.url, userid="lisi")
    r = client.get(authorize(client))
    assert r.status_code == 403 and client.get_cookie("scrm_sidebar", path="/sidebar") is None


def test_a_member_who_leaves_loses_the_session(client, runtime, fake_wecom, world) -> None:
    sign_in(client, fake_wecom.url)
    with runtime.WriteSession.begin() as s:
        s.execute(update(Staff).where(Staff.userid == "zhangsan").values(status="resigned"))
    assert client.get(f"/sidebar/api/customers/{world['wmCustomer0001']}/timeline").status_code == 401


def test_a_spent_or_wrong_code_is_refused(client, fake_wecom, world) -> None:
    choose(fake_wecom.url, userid="zhangsan")
    back = authorize(client)
    requests.post(f"{fake_wecom.url}/fake/oauth/age", json={"seconds": 301}, timeout=5).raise_for_status()
    r = client.get(back)  # WeCom's code lives 5 minutes
    assert r.status_code == 400 and "登录凭证无效" in r.get_data(as_text=True)
    assert fake_wecom.calls("auth/getuserinfo")[-1]["errcode"] == 40029
    assert client.get_cookie("scrm_sidebar", path="/sidebar") is None


def test_an_expired_or_tampered_session_is_no_session(client, runtime, fake_wecom, world) -> None:
    sign_in(client, fake_wecom.url)
    url = f"/sidebar/api/customers/{world['wmCustomer0001']}/timeline"
    assert client.get(url).status_code == 200
    value = client.get_cookie("scrm_sidebar", path="/sidebar").value
    client.set_cookie("scrm_sidebar", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"), path="/sidebar")
    assert client.get(url).status_code == 401
    client.set_cookie("scrm_sidebar", value, path="/sidebar")
    plain = runtime.settings
    runtime.settings = plain.with_overrides(sidebar_session_seconds=-1)  # every session is now too old
    try:
        assert client.get(url).status_code == 401
    finally:
        runtime.settings = plain


def test_every_sidebar_route_needs_a_session(app, client, world) -> None:
    routes = sidebar_routes(app)
    assert {url for _, url, _ in routes} >= {"/sidebar/", "/sidebar/customer", "/sidebar/api/js-config"}
    assert set(PUBLIC) <= {rule.rule for rule in app.url_map.iter_rules()}  # no stale excuses
    for method, url, view in routes:
        guard = getattr(view, "sidebar_guard", None)
        r = client.open(url, method=method, json=None if method == "GET" else {})
        if url.startswith("/sidebar/api/"):
            assert guard == "api", url
            assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized", (method, url)
        else:
            assert guard == "page", url
            assert r.status_code == 302 and "/connect/oauth2/authorize?" in r.headers["Location"], (method, url)


def test_every_sidebar_write_needs_the_csrf_token(app, client, runtime, fake_wecom, world) -> None:
    csrf = sign_in(client, fake_wecom.url)
    writes = [(m, u) for m, u, _ in sidebar_routes(app) if m not in ("GET", "HEAD")]
    assert writes
    for method, url in writes:
        for headers in ({}, {CSRF: "not-the-token"}, {CSRF: csrf[:-1]}):
            r = client.open(url, method=method, json={"text": "x", "add": [1]}, headers=headers)
            assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf", (method, url, headers)
    with runtime.Session() as s:
        assert s.scalars(select(FollowUp)).all() == []
        assert s.scalars(select(AuditLog).where(AuditLog.actor.like("sidebar:%"))).all() == []


def test_a_token_from_another_session_is_not_this_sessions(app, client, fake_wecom, world) -> None:
    other = app.test_client()
    theirs = sign_in(other, fake_wecom.url, "lisi")
    sign_in(client, fake_wecom.url)
    r = client.post(f"/sidebar/api/customers/{world['wmCustomer0001']}/follow-ups", json={"text": "x"},
                    headers={CSRF: theirs})
    assert r.status_code == 403


def test_several_apps_need_the_app_named(client, runtime, world) -> None:
    from models import App

    with runtime.WriteSession.begin() as s:
        first = s.scalar(select(App))
        s.add(App(slug="second", corp_pk=first.corp_pk, kind="agent", token="T2", aes_key=first.aes_key,
                  secret="other-secret", agent_id=1000003))
    r = client.get("/sidebar/")
    assert r.status_code == 400 and "?app=" in r.get_data(as_text=True)
    named = client.get("/sidebar/?app=second")
    assert named.status_code == 302 and "agentid=1000003" in named.headers["Location"]
