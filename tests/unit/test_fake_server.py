"""The fake WeCom server, exercised over real HTTP the way the project's WeCom client will use it."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from wecom.fake import FakeState, FakeWeComServer

CORPID = "wwcorp"
SECRET = "SECRET_A"
AGENTID = 1000002
OTHER_SECRET = "SECRET_B"
OTHER_AGENTID = 1000003

SEED: dict[str, Any] = {
    "corps": [{"corpid": CORPID, "secrets": {SECRET: AGENTID, OTHER_SECRET: OTHER_AGENTID}}],
    "users": [
        {"corpid": CORPID, "userid": "zhangsan", "name": "张三", "department": [1], "mobile": "13800000000",
         "status": 1},
        {"corpid": CORPID, "userid": "lisi", "name": "李四", "department": [2], "status": 1},
    ],
    "external_contacts": [{
        "corpid": CORPID,
        "external_contact": {"external_userid": "wmABC", "name": "王五", "type": 1, "gender": 1},
        "follow_user": [{"userid": "zhangsan", "remark": "", "description": "", "createtime": 1700000000,
                         "tags": [], "remark_mobiles": [], "add_way": 1, "state": "ch-1"}],
    }],
}


def seeded(**kwargs: Any) -> FakeWeComServer:
    """A seeded fake on a free port (not started yet: use it as a context manager)."""
    return FakeWeComServer(state=FakeState(SEED), **kwargs)


def api(server: FakeWeComServer, path: str, token: str | None = None, *, json: Any = None,
        data: str | None = None, **params: Any) -> dict[str, Any]:
    """Call /cgi-bin/<path>: GET, or POST when a body is given; returns the JSON after checking HTTP 200."""
    if token is not None:
        params["access_token"] = token
    url = server.api_base_url + path
    if json is None and data is None:
        response = requests.get(url, params=params, timeout=5)
    else:
        response = requests.post(url, params=params, json=json, data=data, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def token_for(server: FakeWeComServer, secret: str = SECRET) -> str:
    result = api(server, "gettoken", corpid=CORPID, corpsecret=secret)
    assert result["errcode"] == 0, result
    return result["access_token"]


def text_message(touser: str, content: str = "hi", agentid: Any = AGENTID) -> dict[str, Any]:
    return {"touser": touser, "msgtype": "text", "agentid": agentid, "text": {"content": content}}


def calls(server: FakeWeComServer, path: str | None = None) -> list[dict[str, Any]]:
    params = {"path": path} if path else {}
    return requests.get(f"{server.url}/fake/calls", params=params, timeout=5).json()["calls"]


# -- gettoken and token checks ------------------------------------------------------------------------------

def test_gettoken_issues_long_token_with_ttl(fake: FakeWeComServer) -> None:
    result = api(fake, "gettoken", corpid=CORPID, corpsecret=SECRET)
    assert result["errcode"] == 0 and result["errmsg"] == "ok"
    assert len(result["access_token"]) >= 64
    assert result["expires_in"] == 7200


@pytest.mark.parametrize(("corpid", "secret", "errcode", "errmsg"), [
    ("wwnope", SECRET, 40013, "invalid corpid"),
    (CORPID, "WRONG", 40001, "invalid credential"),
])
def test_gettoken_rejects_bad_credentials(fake: FakeWeComServer, corpid: str, secret: str, errcode: int,
                                          errmsg: str) -> None:
    result = api(fake, "gettoken", corpid=corpid, corpsecret=secret)
    assert (result["errcode"], result["errmsg"]) == (errcode, errmsg)
    assert "access_token" not in result


def test_new_token_does_not_invalidate_older_one(fake: FakeWeComServer) -> None:
    first, second = token_for(fake), token_for(fake)
    assert first != second
    assert api(fake, "user/get", first, userid="zhangsan")["errcode"] == 0
    assert api(fake, "user/get", second, userid="zhangsan")["errcode"] == 0


def test_missing_and_unknown_token(fake: FakeWeComServer) -> None:
    assert api(fake, "user/get", userid="zhangsan")["errcode"] == 41001
    assert api(fake, "user/get", "not-a-token", userid="zhangsan")["errcode"] == 40014


def test_expire_control_endpoint_expires_every_token(fake: FakeWeComServer) -> None:
    token = token_for(fake)
    response = requests.post(f"{fake.url}/fake/tokens/expire", timeout=5)
    assert response.json() == {"ok": True, "expired": 1}
    result = api(fake, "user/get", token, userid="zhangsan")
    assert (result["errcode"], result["errmsg"]) == (42001, "access_token expired")
    assert api(fake, "user/get", token_for(fake), userid="zhangsan")["errcode"] == 0


def test_token_expires_after_ttl() -> None:
    with seeded(token_ttl=1) as server:
        token = token_for(server)
        assert api(server, "user/get", token, userid="zhangsan")["errcode"] == 0
        time.sleep(1.1)
        assert api(server, "user/get", token, userid="zhangsan")["errcode"] == 42001


# -- rate limits --------------------------------------------------------------------------------------------

def test_rate_limit_per_corp_and_endpoint() -> None:
    with seeded(rate_limit_per_minute=3) as server:
        token = token_for(server)
        for _ in range(3):
            assert api(server, "user/get", token, userid="zhangsan")["errcode"] == 0
        result = api(server, "user/get", token, userid="zhangsan")
        assert (result["errcode"], result["errmsg"]) == (45009, "api freq out of limit")
        assert api(server, "externalcontact/get", token, external_userid="wmABC")["errcode"] == 0
        assert [call["errcode"] for call in calls(server, "user/get")] == [0, 0, 0, 45009]


def test_message_send_drops_a_members_31st_message_of_a_minute_silently(fake: FakeWeComServer) -> None:
    """Doc 90454: the excess is dropped, not refused: errcode 0, and /fake/app_messages shows the drop."""
    token = token_for(fake)
    for _ in range(31):
        assert api(fake, "message/send", token, json=text_message("zhangsan"))["errcode"] == 0
    assert api(fake, "message/send", token, json=text_message("lisi"))["errcode"] == 0
    log = requests.get(f"{fake.url}/fake/app_messages", timeout=5).json()
    assert [m["userid"] for m in log["dropped"]] == ["zhangsan"]
    assert sorted({m["userid"] for m in log["delivered"]}) == ["lisi", "zhangsan"] and len(log["delivered"]) == 31


def test_message_send_duplicate_check_and_unlicensed_members(fake: FakeWeComServer) -> None:
    token = token_for(fake)
    requests.post(f"{fake.url}/fake/unlicensed", json={"corpid": CORPID, "userids": ["lisi"]},
                  timeout=5).raise_for_status()
    message = {**text_message("zhangsan|lisi"), "enable_duplicate_check": 1, "duplicate_check_interval": 600}
    first = api(fake, "message/send", token, json=message)
    assert (first["errcode"], first["unlicenseduser"]) == (0, "lisi")
    assert api(fake, "message/send", token, json=message)["errcode"] == 0
    log = requests.get(f"{fake.url}/fake/app_messages", timeout=5).json()
    assert [m["userid"] for m in log["delivered"]] == ["zhangsan"]
    assert [m["userid"] for m in log["duplicate"]] == ["zhangsan"]


def test_message_limits_window_is_configurable_and_checked(fake: FakeWeComServer) -> None:
    assert requests.post(f"{fake.url}/fake/message_limits", json={"window_seconds": 0}, timeout=5).status_code == 400
    assert requests.post(f"{fake.url}/fake/message_limits", json={"window_seconds": 0.2},
                         timeout=5).status_code == 200
    token = token_for(fake)
    for _ in range(31):
        api(fake, "message/send", token, json=text_message("zhangsan"))
    time.sleep(0.25)
    api(fake, "message/send", token, json=text_message("zhangsan"))
    log = requests.get(f"{fake.url}/fake/app_messages", timeout=5).json()
    assert (len(log["delivered"]), len(log["dropped"])) == (31, 1)


# -- directory endpoints ------------------------------------------------------------------------------------

def test_user_get(fake: FakeWeComServer) -> None:
    token = token_for(fake)
    result = api(fake, "user/get", token, userid="zhangsan")
    assert result == {"errcode": 0, "errmsg": "ok", "userid": "zhangsan", "name": "张三", "department": [1],
                      "mobile": "13800000000", "status": 1}
    missing = api(fake, "user/get", token, userid="nobody")
    assert (missing["errcode"], missing["errmsg"]) == (60111, "userid not found")


def test_externalcontact_get(fake: FakeWeComServer) -> None:
    token = token_for(fake)
    result = api(fake, "externalcontact/get", token, external_userid="wmABC")
    assert result["errcode"] == 0
    assert result["external_contact"]["name"] == "王五"
    assert result["follow_user"][0]["state"] == "ch-1"
    assert api(fake, "externalcontact/get", token, external_userid="wmNOPE")["errcode"] == 84061
    assert api(fake, "externalcontact/get", token)["errcode"] == 40058


def test_seed_endpoint_merges(fake: FakeWeComServer) -> None:
    response = requests.post(f"{fake.url}/fake/seed", timeout=5, json={
        "users": [{"corpid": CORPID, "userid": "wangwu", "name": "王五", "department": [1]}]})
    assert response.json() == {"ok": True}
    token = token_for(fake)
    assert api(fake, "user/get", token, userid="wangwu")["name"] == "王五"
    assert api(fake, "user/get", token, userid="zhangsan")["errcode"] == 0
    bad = requests.post(f"{fake.url}/fake/seed", json={"users": [{"corpid": "wwghost", "userid": "x"}]},
                        timeout=5)
    assert bad.status_code == 400 and bad.json()["ok"] is False


# -- message/send -------------------------------------------------------------------------------------------

def test_message_send_ok(fake: FakeWeComServer) -> None:
    result = api(fake, "message/send", token_for(fake), json=text_message("zhangsan|lisi"))
    assert result["errcode"] == 0 and result["invaliduser"] == ""
    assert result["msgid"]


def test_message_send_reports_partial_invalid_users(fake: FakeWeComServer) -> None:
    result = api(fake, "message/send", token_for(fake), json=text_message("zhangsan|ghost1|ghost2"))
    assert result["errcode"] == 0
    assert result["invaliduser"] == "ghost1|ghost2"


def test_message_send_all_recipients_invalid(fake: FakeWeComServer) -> None:
    result = api(fake, "message/send", token_for(fake), json=text_message("ghost"))
    assert (result["errcode"], result["errmsg"]) == (81013, "user & party & tag all invalid")


def test_message_send_to_party(fake: FakeWeComServer) -> None:
    message = {**text_message(""), "toparty": "2|99"}
    result = api(fake, "message/send", token_for(fake), json=message)
    assert result["errcode"] == 0 and result["invalidparty"] == "99"


@pytest.mark.parametrize(("message", "errcode"), [
    (text_message("zhangsan", content=""), 44004),
    (text_message("zhangsan", agentid=OTHER_AGENTID), 301002),
    ({**text_message("zhangsan"), "msgtype": "fax"}, 40008),
])
def test_message_send_validation(fake: FakeWeComServer, message: dict[str, Any], errcode: int) -> None:
    assert api(fake, "message/send", token_for(fake), json=message)["errcode"] == errcode


def test_message_send_agentid_is_bound_to_token(fake: FakeWeComServer) -> None:
    other_token = token_for(fake, OTHER_SECRET)
    assert api(fake, "message/send", other_token, json=text_message("zhangsan"))["errcode"] == 301002
    message = text_message("zhangsan", agentid=str(OTHER_AGENTID))
    assert api(fake, "message/send", other_token, json=message)["errcode"] == 0


def test_message_send_rejects_malformed_json(fake: FakeWeComServer) -> None:
    result = api(fake, "message/send", token_for(fake), data="{not json")
    assert (result["errcode"], result["errmsg"]) == (47001, "data format error")
    assert calls(fake, "message/send")[0]["body"] is None


# -- faults, call log, unknown endpoints --------------------------------------------------------------------

def test_fault_injection_fails_the_next_count_calls(fake: FakeWeComServer) -> None:
    token = token_for(fake)
    response = requests.post(f"{fake.url}/fake/faults", timeout=5,
                             json={"path": "externalcontact/get", "errcode": -1, "count": 2, "delay": 0.0})
    assert response.json() == {"ok": True}
    results = [api(fake, "externalcontact/get", token, external_userid="wmABC") for _ in range(3)]
    busy = (-1, "system busy")
    assert [(r["errcode"], r["errmsg"]) for r in results] == [busy, busy, (0, "ok")]
    assert api(fake, "user/get", token, userid="zhangsan")["errcode"] == 0


def test_a_fault_after_n_calls_lets_those_pass_first(fake: FakeWeComServer) -> None:
    token = token_for(fake)
    requests.post(f"{fake.url}/fake/faults", json={"path": "user/get", "errcode": -1, "count": 1, "after": 2},
                  timeout=5).raise_for_status()
    results = [api(fake, "user/get", token, userid="zhangsan")["errcode"] for _ in range(4)]
    assert results == [0, 0, -1, 0]
    for after in (-1, "2"):
        bad = requests.post(f"{fake.url}/fake/faults", json={"path": "user/get", "errcode": -1, "after": after},
                            timeout=5)
        assert (bad.status_code, "'after'" in bad.text) == (400, True)
    assert api(fake, "user/get", token, userid="zhangsan")["errcode"] == 0  # the bad ones set nothing


def test_fault_with_errcode_zero_only_delays(fake: FakeWeComServer) -> None:
    token = token_for(fake)
    requests.post(f"{fake.url}/fake/faults", json={"path": "user/get", "errcode": 0, "delay": 0.3}, timeout=5)
    started = time.monotonic()
    assert api(fake, "user/get", token, userid="zhangsan")["errcode"] == 0
    assert time.monotonic() - started >= 0.3


def test_faults_can_be_cleared_and_are_validated(fake: FakeWeComServer) -> None:
    token = token_for(fake)
    requests.post(f"{fake.url}/fake/faults", json={"path": "user/get", "errcode": -1, "count": 5}, timeout=5)
    requests.delete(f"{fake.url}/fake/faults", timeout=5)
    assert api(fake, "user/get", token, userid="zhangsan")["errcode"] == 0
    bad = requests.post(f"{fake.url}/fake/faults", json={"path": "no/such", "errcode": -1}, timeout=5)
    assert bad.status_code == 400


def test_every_call_is_recorded_without_credentials(fake: FakeWeComServer) -> None:
    api(fake, "gettoken", corpid=CORPID, corpsecret="WRONG")
    token = token_for(fake)
    api(fake, "message/send", token, json=text_message("zhangsan"))
    recorded = calls(fake)
    assert [(c["seq"], c["method"], c["path"], c["errcode"]) for c in recorded] == [
        (1, "GET", "gettoken", 40001), (2, "GET", "gettoken", 0), (3, "POST", "message/send", 0)]
    assert recorded[0]["query"] == {"corpid": CORPID} and recorded[0]["agentid"] is None
    assert recorded[1]["agentid"] == AGENTID
    send = recorded[2]
    assert (send["corpid"], send["agentid"], send["query"]) == (CORPID, AGENTID, {})
    assert send["body"]["text"] == {"content": "hi"}
    assert isinstance(send["at"], float)
    dumped = requests.get(f"{fake.url}/fake/calls", timeout=5).text
    assert SECRET not in dumped and "WRONG" not in dumped and token not in dumped
    assert [c["path"] for c in calls(fake, "message/send")] == ["message/send"]
    requests.delete(f"{fake.url}/fake/calls", timeout=5)
    assert calls(fake) == []


def test_unknown_endpoint_fails_loudly(fake: FakeWeComServer) -> None:
    response = requests.get(fake.api_base_url + "externalcontact/frobnicate",
                            params={"access_token": token_for(fake)}, timeout=5)
    assert response.status_code == 404
    assert response.json() == {"errcode": 99999,
                               "errmsg": "fake WeCom has no endpoint externalcontact/frobnicate"}
    assert calls(fake, "externalcontact/frobnicate")[0]["errcode"] == 99999


def test_health_and_server_lifecycle() -> None:
    server = seeded().start()
    url = server.url
    assert requests.get(f"{url}/fake/health", timeout=5).json() == {"ok": True}
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/fake/health", timeout=2)


def test_wrong_http_method_fails_loudly(fake: FakeWeComServer) -> None:
    response = requests.get(fake.api_base_url + "message/send", params={"access_token": token_for(fake)},
                            timeout=5)
    assert response.status_code == 405 and response.json()["errcode"] == 99999
