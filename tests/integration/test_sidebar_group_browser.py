"""The group profile in a real browser (Debian's headless Chromium, as tests/integration/test_sidebar_browser.py):
the member signs in through the OAuth redirect, the entry page learns from the stubbed `wx` bridge that the
chat is a group chat (getContext → group_chat_tools, then getCurExternalChat) and opens that group's page.
Screenshot at 375×667 to tests/artifacts/sidebar-group.png (README shows a copy, docs/screenshots/)."""

from __future__ import annotations

from typing import Any

import group_world
from sidebar_support import choose
from support import CORP_ID
from test_sidebar_browser import VIEWPORT, browser, phone, served, shot  # noqa: F401  (fixtures)

GROUP_BRIDGE = """
function record(name) {
  var calls = JSON.parse(sessionStorage.getItem('bridge') || '[]');
  calls.push(name);
  sessionStorage.setItem('bridge', JSON.stringify(calls));
}
window.wx = {
  config: function () {}, ready: function (f) { setTimeout(f, 0); }, error: function () {},
  agentConfig: function (c) { setTimeout(function () { c.success({}); }, 0); },
  invoke: function (name, args, cb) {
    record(name);
    var answers = {
      getContext: {err_msg: 'getContext:ok', entry: 'group_chat_tools', shareTicket: ''},
      getCurExternalChat: {err_msg: 'getCurExternalChat:ok', chatId: 'wrG1'}
    };
    setTimeout(function () { cb(answers[name] || {err_msg: name + ':fail'}); }, 0);
  }
};
"""


def test_a_group_chat_opens_its_group_profile(browser, served, client, runtime, fake_wecom,  # noqa: F811
                                              make_token) -> None:
    from wecom.client import _process_tokens

    _process_tokens._data.clear()  # tickets come from this test's fake, not an earlier test's
    group_world.build(runtime)
    admin, corp = make_token("admin", name="setup"), {"corp_id": CORP_ID}
    tags = client.post("/api/v1/group-tag-groups", headers=admin, json={
        **corp, "name": "群类型", "tags": [{"name": "销售群"}, {"name": "华东"}]}).get_json()["tags"]
    assert client.post("/api/v1/groups/tags", headers=admin, json={
        **corp, "chat_ids": ["wrG1"], "add": [t["id"] for t in tags]}).status_code == 200
    choose(fake_wecom.url, userid="zhangsan")
    with phone(browser, GROUP_BRIDGE) as page:
        page.goto(f"{served}/sidebar/")  # → fake authorize → callback → entry → bridge → the group's page
        page.wait_for_url("**/sidebar/group?chat_id=wrG1", timeout=15000)
        page.wait_for_selector("text=销售一群")
        shot(page, "sidebar-group")
        bridge: list[Any] = page.evaluate("JSON.parse(sessionStorage.getItem('bridge'))")
        assert bridge == ["getContext", "getCurExternalChat"]
        assert page.text_content("#size-total") == "4" and "群主：张三" in page.text_content("body")
        assert "销售群" in page.text_content("#tags") and "华东" in page.text_content("#tags")
        assert page.locator("#moves li").count() >= 5
        page.set_viewport_size({"width": 375, "height": 1150})
        shot(page, "sidebar-group-full")  # the joins and quits below the fold
        page.set_viewport_size(VIEWPORT)
        page.goto(f"{served}/sidebar/group?chat_id=wrG2")  # lisi's group: not this member's
        assert "这个客户群不在你的客户群列表中" in page.text_content("body") and "VIP二群" not in page.content()
