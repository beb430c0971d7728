"""The fake WeCom's web sign-in and JS-SDK tickets, over HTTP: WeCom's shapes, lifetimes and errcodes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from support import CORP_ID, SECRET
from wecom.client import WeComClient, WeComError

BACK = "https://scrm.example/sidebar/oauth/callback"


@pytest.fixture
def wecom(fake_wecom) -> WeComClient:  # type: ignore[no-untyped-def]
    return WeComClient(CORP_ID, SECRET, fake_wecom.api_base)


def authorize(fake_url: str, **params: str) -> requests.Response:
    query = {"appid": CORP_ID, "redirect_uri": BACK, "response_type": "code", "scope": "snsapi_base",
             "state": "S1", "agentid": "1000002", **params}
    return requests.get(f"{fake_url}/connect/oauth2/authorize", params=query, allow_redirects=False, timeout=5)


def code_for(fake_url: str, **who: str) -> str:
    requests.post(f"{fake_url}/fake/oauth/user", json={"corpid": CORP_ID, **who}, timeout=5).raise_for_status()
    r = authorize(fake_url)
    assert r.status_code == 302
    url = urlsplit(r.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == BACK and parse_qs(url.query)["state"] == ["S1"]
    return parse_qs(url.query)["code"][0]


def errcode(call) -> int | None:  # type: ignore[no-untyped-def]
    with pytest.raises(WeComError) as exc:
        call()
    return exc.value.errcode


def test_a_code_names_the_member_once(fake_wecom, wecom) -> None:
    code = code_for(fake_wecom.url, userid="zhangsan")
    assert wecom.get("auth/getuserinfo", params={"code": code})["userid"] == "zhangsan"
    assert errcode(lambda: wecom.get("auth/getuserinfo", params={"code": code})) == 40029


def test_a_wechat_user_gets_an_openid_only(fake_wecom, wecom) -> None:
    answer = wecom.get("auth/getuserinfo", params={"code": code_for(fake_wecom.url, openid="oUser1")})
    assert answer["openid"] == "oUser1" and "userid" not in answer


def test_codes_die_after_five_minutes_and_belong_to_their_corp(fake_wecom, wecom) -> None:
    code = code_for(fake_wecom.url, userid="zhangsan")
    requests.post(f"{fake_wecom.url}/fake/oauth/age", json={"seconds": 301}, timeout=5).raise_for_status()
    assert errcode(lambda: wecom.get("auth/getuserinfo", params={"code": code})) == 40029
    assert errcode(lambda: wecom.get("auth/getuserinfo", params={"code": "made-up"})) == 40029
    assert errcode(lambda: wecom.get("auth/getuserinfo")) == 41008


@pytest.mark.parametrize("params", [{"appid": "wwunknown"}, {"scope": "snsapi_userinfo"}, {"response_type": "token"},
                                    {"redirect_uri": ""}, {"agentid": "999"}])
def test_a_wrong_authorize_link_is_refused(fake_wecom, params) -> None:
    requests.post(f"{fake_wecom.url}/fake/oauth/user", json={"corpid": CORP_ID, "userid": "zhangsan"}, timeout=5)
    assert authorize(fake_wecom.url, **params).status_code == 400


def test_nobody_chosen_is_refused(fake_wecom) -> None:
    assert authorize(fake_wecom.url).status_code == 400


def test_tickets_live_7200_seconds(fake_wecom, wecom) -> None:
    corp, agent = wecom.get("get_jsapi_ticket"), wecom.get("ticket/get", params={"type": "agent_config"})
    assert corp["expires_in"] == agent["expires_in"] == 7200 and corp["ticket"] != agent["ticket"]
    assert errcode(lambda: wecom.get("ticket/get", params={"type": "jsapi"})) == 40058


def test_an_app_gets_100_tickets_an_hour(fake_wecom, wecom) -> None:
    for _ in range(100):
        wecom.get("get_jsapi_ticket")
    assert errcode(lambda: wecom.get("get_jsapi_ticket")) == 45009
    wecom.get("ticket/get", params={"type": "agent_config"})  # counted apart
