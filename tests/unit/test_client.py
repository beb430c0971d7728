"""The WeCom client against the fake WeCom over HTTP: token cache, one refresh at a time, retries, errors."""

from __future__ import annotations

import threading

import pytest

from support import CORP_ID, SECRET
from wecom.client import WeComClient, WeComError


@pytest.fixture
def client(fake_wecom) -> WeComClient:  # type: ignore[no-untyped-def]
    from wechatpy.session.memorystorage import MemoryStorage

    c = WeComClient(CORP_ID, SECRET, fake_wecom.api_base, sleep=lambda s: None)
    c.session = MemoryStorage()  # a cache of its own, so tests do not share tokens
    return c


def test_token_is_fetched_once_and_reused(client, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert client.get_user("zhangsan")["name"] == "张三"
    assert len(fake_wecom.calls("gettoken")) == 1
    assert all("access_token" not in c["query"] for c in fake_wecom.calls("user/get"))  # the fake drops it


def test_the_shared_token_cache_is_read_once_per_memo_period(client, fake_wecom, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The shared cache (Redis in production) is asked once, not per call; a token WeCom refuses is forgotten
    here too, so the retry reads the cache again."""
    import wecom.client

    reads: list[str] = []
    real_get = client.session.get
    monkeypatch.setattr(client.session, "get", lambda key, default=None: reads.append(key) or real_get(key, default))
    for _ in range(3):
        client.get_user("zhangsan")
    assert len(reads) == 2  # the miss before gettoken, and its re-check under the refresh lock
    fake_wecom.expire_tokens()
    client.get_user("zhangsan")
    assert len(fake_wecom.calls("gettoken")) == 2 and len(reads) > 2
    settled = len(reads)
    client.get_user("zhangsan")
    assert len(reads) == settled  # memoized again
    monkeypatch.setattr(wecom.client, "TOKEN_MEMO_SECONDS", -1.0)  # from now on, every memo has run out
    client._memo = ("", 0.0)
    client.get_user("zhangsan")
    client.get_user("zhangsan")
    assert len(reads) == settled + 2


def test_expired_token_is_refreshed_and_the_call_retried(client, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    client.get_user("zhangsan")
    fake_wecom.expire_tokens()
    assert client.get_user("zhangsan")["userid"] == "zhangsan"
    assert [c["errcode"] for c in fake_wecom.calls("user/get")] == [0, 42001, 0]
    assert len(fake_wecom.calls("gettoken")) == 2


def test_concurrent_first_calls_share_one_token_fetch(fake_wecom) -> None:  # type: ignore[no-untyped-def]
    """The refresh stampede wechatpy allows: eight threads, one gettoken (the refresh lock)."""
    from wechatpy.session.memorystorage import MemoryStorage

    shared = MemoryStorage()
    fake_wecom.fault("gettoken", 0, count=1, delay=0.3)  # a slow gettoken widens the race
    results: list[str] = []

    def work() -> None:
        c = WeComClient(CORP_ID, SECRET, fake_wecom.api_base)
        c.session = shared
        results.append(c.get_user("lisi")["name"])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["李四"] * 8
    assert len(fake_wecom.calls("gettoken")) == 1


def test_busy_is_retried_with_back_off(client, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    fake_wecom.fault("user/get", -1, count=2)
    assert client.get_user("zhangsan")["name"] == "张三"
    assert [c["errcode"] for c in fake_wecom.calls("user/get")] == [-1, -1, 0]


def test_busy_beyond_the_back_off_raises_a_retryable_error(client, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    fake_wecom.fault("user/get", -1, count=10)
    with pytest.raises(WeComError) as err:
        client.get_user("zhangsan")
    assert (err.value.errcode, err.value.retryable, err.value.endpoint) == (-1, True, "user/get")
    assert err.value.retry_after is None
    assert len(fake_wecom.calls("user/get")) == 4  # first try + 3 back-off retries


@pytest.mark.parametrize("errcode, wait", [(45009, 60.0), (45033, 5.0)])
def test_a_rate_limit_is_not_retried_here_but_says_when_to_call_again(client, fake_wecom, errcode, wait) -> None:  # type: ignore[no-untyped-def]
    """Quick retries into WeCom's rate limit only burn its window (refused calls count too): one call, and
    the error says how long the block lasts, for the job to be re-scheduled then."""
    fake_wecom.fault("user/get", errcode, count=10)
    with pytest.raises(WeComError) as err:
        client.get_user("zhangsan")
    assert (err.value.errcode, err.value.retryable, err.value.retry_after) == (errcode, True, wait)
    assert [c["errcode"] for c in fake_wecom.calls("user/get")] == [errcode]


@pytest.mark.parametrize("call, errcode", [
    (lambda c: c.get_user("nobody"), 60111),
    (lambda c: c.get_external_contact("wmNobody"), 84061),
])
def test_other_errcodes_raise_a_final_typed_error(client, call, errcode) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WeComError) as err:
        call(client)
    assert err.value.errcode == errcode and not err.value.retryable


def test_wrong_secret_is_a_typed_error(fake_wecom) -> None:  # type: ignore[no-untyped-def]
    c = WeComClient(CORP_ID, "wrong-secret", fake_wecom.api_base)
    with pytest.raises(WeComError) as err:
        c.get_user("zhangsan")
    assert (err.value.errcode, err.value.endpoint) == (40001, "gettoken")


def test_unreachable_wecom_is_retryable_and_does_not_leak_the_url() -> None:
    c = WeComClient(CORP_ID, SECRET, "http://127.0.0.1:9/cgi-bin/", timeout=1)
    c.session.set(c.access_token_key, "SECRET-TOKEN-VALUE", 60)
    with pytest.raises(WeComError) as err:
        c.get_user("zhangsan")
    assert err.value.errcode is None and err.value.retryable
    assert "SECRET-TOKEN-VALUE" not in str(err.value)
    c.session.delete(c.access_token_key)


def test_follow_users_are_paged_with_the_cursor(client, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    follow = [{"userid": f"u{i}", "remark": "", "description": "", "createtime": 1732000000, "tags": [],
               "remark_mobiles": [], "add_way": 1, "state": ""} for i in range(620)]
    fake_wecom.seed({"users": [], "external_contacts": [{"corpid": CORP_ID, "external_contact": {
        "external_userid": "wmMany", "name": "多人", "type": 1}, "follow_user": follow}]})
    result = client.get_external_contact("wmMany")
    assert len(result["follow_user"]) == 620
    assert len(fake_wecom.calls("externalcontact/get")) == 2


@pytest.mark.parametrize("no_proxy, reaches", [("127.0.0.1,localhost", True), ("", False)])
def test_the_proxy_environment_is_honoured(fake_wecom, monkeypatch, no_proxy, reaches) -> None:  # type: ignore[no-untyped-def]
    """The client reads HTTP(S)_PROXY and NO_PROXY once, when it is made (not on every call): a proxy that
    does not answer is used for WeCom's host unless NO_PROXY names it."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the discard port: nothing listens there
    monkeypatch.setenv("NO_PROXY", no_proxy)
    c = WeComClient(CORP_ID, SECRET, fake_wecom.api_base, sleep=lambda s: None, backoff=())
    monkeypatch.delenv("HTTP_PROXY")  # read at construction: later changes do not matter
    if reaches:
        assert c.get_user("zhangsan")["name"] == "张三"
    else:
        with pytest.raises(WeComError) as caught:
            c.get_user("zhangsan")
        assert caught.value.retryable
        assert not fake_wecom.calls("user/get")
