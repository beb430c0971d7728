"""JS-SDK signatures: WeCom's documented example, what `/sidebar/api/js-config` answers, and the tickets'
shared cache (fetched once for their lifetime, by one process at a time), against the fake WeCom."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import requests

from sidebar_support import build_world, sign_in
from support import CORP_ID
from web.sidebar.jssdk import signature
from wecom.client import _process_tokens

# WeCom's own example, "JS-SDK 签名算法" (https://developer.work.weixin.qq.com/document/path/96909, 示例):
# noncestr, jsapi_ticket, timestamp and url as below give this signature.
WECOM_EXAMPLE = {
    "noncestr": "Wm3WZYTPz0wzccnW",
    "jsapi_ticket": "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
    "timestamp": 1414587457,
    "url": "http://mp.weixin.qq.com?params=value",
    "signature": "0f9de62fce790f9a083d5c99e95740ceb90c27ed",
}


def test_the_signature_matches_wecoms_documented_example() -> None:
    v = WECOM_EXAMPLE
    assert signature(v["jsapi_ticket"], v["noncestr"], v["timestamp"], v["url"]) == v["signature"]


@pytest.fixture
def signed_in(sender, client, runtime, fake_wecom, make_token) -> str:  # type: ignore[no-untyped-def]
    _process_tokens._data.clear()  # without Redis tickets live in this process's store: a test starts with none
    build_world(sender, client, runtime, fake_wecom.url, make_token("admin", name="setup"))
    return sign_in(client, fake_wecom.url)


def tickets(fake_url: str) -> dict[str, str]:
    return {t["kind"]: t["ticket"] for t in requests.get(f"{fake_url}/fake/tickets", timeout=5).json()["tickets"]}


def check(sig: dict[str, Any], ticket: str, url: str) -> None:
    plain = f"jsapi_ticket={ticket}&noncestr={sig['nonceStr']}&timestamp={sig['timestamp']}&url={url}"
    assert sig["signature"] == hashlib.sha1(plain.encode()).hexdigest()


def test_js_config_signs_the_page_without_its_fragment(client, fake_wecom, signed_in) -> None:
    r = client.get("/sidebar/api/js-config", query_string={"url": "http://localhost/sidebar/customer?external_userid=wm1#top"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    url = "http://localhost/sidebar/customer?external_userid=wm1"
    assert (body["url"], body["appId"], body["agentid"]) == (url, CORP_ID, 1000002)
    issued = tickets(fake_wecom.url)
    check(body["config"], issued["jsapi"], url)
    check(body["agentConfig"], issued["agent_config"], url)


def test_tickets_are_fetched_once_for_their_lifetime(client, fake_wecom, signed_in) -> None:
    for _ in range(3):
        assert client.get("/sidebar/api/js-config", query_string={"url": "http://localhost/sidebar/"}).status_code == 200
    assert len(fake_wecom.calls("get_jsapi_ticket")) == 1
    assert [c["query"]["type"] for c in fake_wecom.calls("ticket/get")] == ["agent_config"]


@pytest.mark.parametrize("url", ["https://evil.example/sidebar/", "javascript:alert(1)//localhost", "localhost/x"])
def test_only_pages_of_this_service_are_signed(client, fake_wecom, signed_in, url) -> None:
    r = client.get("/sidebar/api/js-config", query_string={"url": url})
    assert r.status_code == 400
    assert fake_wecom.calls("get_jsapi_ticket") == []


def test_a_ticket_wecom_refuses_is_a_502(client, fake_wecom, signed_in) -> None:
    fake_wecom.fault("get_jsapi_ticket", 45009)
    r = client.get("/sidebar/api/js-config", query_string={"url": "http://localhost/sidebar/"})
    assert r.status_code == 502 and r.get_json()["error"]["code"] == "wecom_unavailable"
