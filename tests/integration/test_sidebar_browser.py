"""The sidebar in a real browser: Debian's headless Chromium, driven by Playwright (which never downloads a
browser here: it is pointed at /usr/bin/chromium), against the service on a real HTTP server and the fake
WeCom. Only WeCom's JS bridge (`wx`) is stubbed, by an init script, as WeCom's WebView would provide it.

The member signs in through the OAuth redirect (the fake's authorize page), the entry page asks the bridge
whom the chat is with and opens that customer's profile; the member adds a tag and a follow-up record, edits
two custom fields and returns the customer to the public pool (退回公海). The test checks the DB rows, the fake's mark_tag call, the bridge's wx.config signature and the page, and writes
screenshots at 375×667 to tests/artifacts/ (README's docs/screenshots/ are copies of them).

Without chromium this skips locally with the reason; under CI (CI=true) it fails instead."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from models import Customer, FollowTag, FollowUp, Tag
from models.fields import CustomerFieldValue, CustomField
from models.pool import PoolMove
from sidebar_support import build_world, choose
from support import CORP_ID
from wecom.fake.server import QuietHandler

CHROMIUM = os.environ.get("SCRM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
VIEWPORT = {"width": 375, "height": 667}

# WeCom's bridge as the WebView gives it (jweixin 1.2 with agentConfig): config/ready/error/agentConfig/invoke.
# Every call is kept, across the tab's pages (sessionStorage), for the test to read.
BRIDGE = """
function record(call) {
  var calls = JSON.parse(sessionStorage.getItem('bridge') || '[]');
  calls.push(call);
  sessionStorage.setItem('bridge', JSON.stringify(calls));
}
window.wx = {
  config: function (c) { record(['config', c, location.href]); },
  ready: function (f) { setTimeout(f, 0); },
  error: function () {},
  agentConfig: function (c) {
    record(['agentConfig', {corpid: c.corpid, agentid: c.agentid, timestamp: c.timestamp, nonceStr: c.nonceStr,
                            signature: c.signature}, location.href]);
    setTimeout(function () { c.success({}); }, 0);
  },
  invoke: function (name, args, cb) {
    record(['invoke', name, location.href, args]);
    var answers = {
      getContext: {err_msg: 'getContext:ok', entry: 'single_chat_tools', shareTicket: ''},
      getCurExternalContact: {err_msg: 'getCurExternalContact:ok', userId: 'wmCustomer0001'},
      sendChatMessage: {err_msg: 'sendChatMessage:ok'}
    };
    setTimeout(function () { cb(answers[name] || {err_msg: name + ':fail'}); }, 0);
  }
};
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium is not installed at {CHROMIUM}: CI must apt-get install chromium")
        pytest.skip(f"chromium is not installed ({CHROMIUM}): apt-get install chromium fonts-noto-cjk")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def served(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The service (the test's app, its DB) on a real HTTP server in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@contextmanager
def phone(browser: Any, bridge: str) -> Iterator[Any]:
    """A page in a 375×667 Chinese WebView whose `wx`/`ww` bridge is `bridge` (an init script); the test
    fails on any script error the page raised."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="zh-CN")
    context.add_init_script(bridge)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert errors == []
    context.close()



def test_a_member_signs_in_tags_and_records_a_follow_up(browser, served, sender, client, runtime, fake_wecom,
                                                         make_token) -> None:
    from wecom.client import _process_tokens

    _process_tokens._data.clear()  # tickets come from this test's fake, not an earlier test's
    admin = make_token("admin", name="setup")
    ids = build_world(sender, client, runtime, fake_wecom.url, admin)
    for key, label, kind, extra in (("budget", "预算", "number", {}), ("level", "等级", "select", {"options": ["A", "B"]})):
        client.post("/api/v1/custom-fields", headers=admin, json={"key": key, "label": label, "type": kind, **extra})
    reason = client.post("/api/v1/pool-return-reasons", headers=admin, json={"corp_id": CORP_ID, "name": "无意向"})
    client.post("/api/v1/follow-ups", headers=make_token("member", userid="zhangsan", name="zs"),
                json={"customer_id": ids["wmCustomer0001"], "text": "初次电话沟通，对年度套餐感兴趣"})
    choose(fake_wecom.url, userid="zhangsan")
    with phone(browser, BRIDGE) as page:

        page.goto(f"{served}/sidebar/")  # → fake authorize → callback → entry → bridge → profile
        page.wait_for_url("**/sidebar/customer?external_userid=wmCustomer0001", timeout=15000)
        page.wait_for_selector("text=王小明")
        shot(page, "sidebar-customer")

        bridge = page.evaluate("JSON.parse(sessionStorage.getItem('bridge'))")
        issued = {t["kind"]: t["ticket"] for t in requests.get(f"{fake_wecom.url}/fake/tickets", timeout=5).json()["tickets"]}
        entry_url = f"{served}/sidebar/"
        for kind, ticket in (("config", issued["jsapi"]), ("agentConfig", issued["agent_config"])):
            [(signed, at)] = [(c[1], c[2]) for c in bridge if c[0] == kind]
            plain = f"jsapi_ticket={ticket}&noncestr={signed['nonceStr']}&timestamp={signed['timestamp']}&url={entry_url}"
            # the browser kept WeCom's #wechat_redirect through the redirects: signed without it, as WeCom checks
            assert at == entry_url + "#wechat_redirect" and signed["signature"] == hashlib.sha1(plain.encode()).hexdigest(), kind
            assert signed.get("appId", signed.get("corpid")) == CORP_ID
        assert [c[1] for c in bridge if c[0] == "invoke"] == ["getContext", "getCurExternalContact"]

        page.click("#tag-add")
        page.click("#tag-picker >> text=A级")
        page.wait_for_selector(f"#tags .sb-chip[data-tag='{ids['A级']}']")
        page.fill("#follow-up textarea", "微信沟通报价，下周回访")
        page.click("#follow-up button[type=submit]")
        page.wait_for_selector("#timeline >> text=微信沟通报价，下周回访")
        page.wait_for_selector("#toast", state="hidden", timeout=5000)
        page.fill(".sb-field[data-key=budget] input", "12.5")  # custom fields, edited in place
        page.select_option(".sb-field[data-key=level] select", "B")
        page.click("#fields-save")
        page.wait_for_selector("#toast >> text=已保存客户信息")
        page.wait_for_selector("#toast", state="hidden", timeout=5000)
        shot(page, "sidebar-customer-after")
        page.set_viewport_size({"width": 375, "height": 1100})
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, "sidebar-customer-full")

        with runtime.Session() as s:
            a_tag = s.get(Tag, ids["A级"])
            assert s.execute(select(FollowTag.tag_pk, FollowTag.tagged_by)).all() == [(a_tag.id, "zhangsan")]
            rows = s.execute(select(FollowUp.text, FollowUp.via, FollowUp.userid).order_by(FollowUp.id)).all()
            assert rows[-1] == ("微信沟通报价，下周回访", "sidebar", "zhangsan")
        [mark] = fake_wecom.calls("externalcontact/mark_tag")
        assert (mark["body"]["userid"], mark["body"]["external_userid"], mark["body"]["add_tag"]) == (
            "zhangsan", "wmCustomer0001", [a_tag.tag_id])
        assert page.text_content("#tags").count("A级") == 1
        with runtime.Session() as s:
            values = s.execute(select(CustomField.key, CustomerFieldValue.value).join(
                CustomField, CustomField.id == CustomerFieldValue.field_id).where(
                CustomerFieldValue.customer_id == ids["wmCustomer0001"])).all()
            assert sorted(values) == [("budget", 12.5), ("level", "B")]

        page.on("dialog", lambda dialog: dialog.accept())  # 退回公海: pick the reason, confirm
        page.select_option("#pool-reason", label="无意向")
        page.click("#pool-return-button")
        page.wait_for_selector("#pool-return", state="detached")
        with runtime.Session() as s:
            c = s.get(Customer, ids["wmCustomer0001"])
            assert (c.owner_userid, c.pool_left_by, c.pool_reason) == (None, "zhangsan", "无意向") and c.pooled_at
            assert s.scalar(select(PoolMove.reason_id).where(PoolMove.customer_id == c.id)) == reason.get_json()["id"]

        page.set_viewport_size(VIEWPORT)  # another member's customer: the member's scope, in the browser too
        page.goto(f"{served}/sidebar/customer?external_userid=wmCustomer0002")
        assert "这位客户不在你的客户列表中" in page.text_content("body") and "赵六" not in page.content()
        shot(page, "sidebar-not-yours")


# The newer @wecom/jssdk bridge: ww.register with signature callbacks, then promise-returning calls.
WW_BRIDGE = """
window.ww = {
  register: function (o) {
    sessionStorage.setItem('ww', JSON.stringify({corpId: o.corpId, agentId: o.agentId,
      config: o.getConfigSignature(location.href.split('#')[0]),
      agent: o.getAgentConfigSignature(location.href.split('#')[0])}));
  },
  getContext: function () { return Promise.resolve({entry: 'single_chat_tools'}); },
  getCurExternalContact: function () { return Promise.resolve({userId: 'wmCustomer0001'}); }
};
"""


def test_the_wecom_jssdk_bridge_works_too(browser, served, sender, client, runtime, fake_wecom,
                                          make_token) -> None:
    build_world(sender, client, runtime, fake_wecom.url, make_token("admin", name="setup"))
    choose(fake_wecom.url, userid="zhangsan")
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    context.add_init_script(WW_BRIDGE)
    page = context.new_page()
    page.goto(f"{served}/sidebar/")
    page.wait_for_url("**/sidebar/customer?external_userid=wmCustomer0001", timeout=15000)
    registered = page.evaluate("JSON.parse(sessionStorage.getItem('ww'))")
    assert (registered["corpId"], registered["agentId"]) == (CORP_ID, 1000002)
    assert len(registered["config"]["signature"]) == len(registered["agent"]["signature"]) == 40
    context.close()
