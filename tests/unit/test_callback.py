"""The callback door: URL verification, acceptance, dedup and every rejection (status + nothing stored)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Customer, Inbox
from wecom.crypto import CallbackCrypto
from wecom.fake.sender import build_callback

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "wecom_vectors.json").read_text())
ADD = "change_external_contact/add_external_contact"


def inbox_count(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(Inbox))


@pytest.fixture
def official_app(client, make_token):  # type: ignore[no-untyped-def]
    """The app of the official vectors, added through the admin API."""
    app = VECTORS["app"]
    r = client.post("/api/v1/apps", headers=make_token(), json={
        "slug": "official", "corp_id": app["corp_id"], "token": app["token"],
        "aes_key": app["encoding_aes_key"], "secret": "s", "agent_id": 218})
    assert r.status_code == 201
    return "/wecom/callback/official"


def test_official_vectors_through_http_with_clock_check_off(client, runtime, official_app, monkeypatch) -> None:
    monkeypatch.setattr(runtime, "settings", runtime.settings.with_overrides(max_clock_skew=0))
    v = VECTORS["verify_url"]
    r = client.get(official_app, query_string={k: v[k] for k in ("msg_signature", "timestamp", "nonce", "echostr")})
    assert (r.status_code, r.get_data(as_text=True)) == (200, v["expected_plaintext"])
    assert r.mimetype == "text/plain"
    m = VECTORS["decrypt_message"]
    r = client.post(official_app, query_string={k: m[k] for k in ("msg_signature", "timestamp", "nonce")}, data=m["body"])
    assert (r.status_code, r.data) == (200, b"")
    with runtime.Session() as s:
        row = s.scalar(select(Inbox))
        assert row.raw_xml == m["expected_plaintext"]
        assert row.routing_key == "message/text"


def test_official_vectors_are_stale_with_the_default_clock_window(client, runtime, official_app) -> None:
    m = VECTORS["decrypt_message"]
    r = client.post(official_app, query_string={k: m[k] for k in ("msg_signature", "timestamp", "nonce")}, data=m["body"])
    assert (r.status_code, r.get_data(as_text=True)) == (403, "stale timestamp")
    assert inbox_count(runtime) == 0


def test_get_verification_for_the_default_app(client, crypto) -> None:
    echo = "8473523784932893"
    ts, nonce = str(int(time.time())), "42"
    from wechatpy.enterprise.crypto import PrpCrypto

    encrypted = PrpCrypto(crypto._crypto.key).encrypt(echo, crypto.corp_id).decode()
    r = client.get("/wecom/callback/default", query_string={
        "msg_signature": crypto.sign(ts, nonce, encrypted), "timestamp": ts, "nonce": nonce, "echostr": encrypted})
    assert (r.status_code, r.get_data(as_text=True)) == (200, echo)


def test_get_with_another_corps_echostr_is_403(client, crypto) -> None:
    from wechatpy.enterprise.crypto import PrpCrypto

    ts, nonce = str(int(time.time())), "42"
    encrypted = PrpCrypto(crypto._crypto.key).encrypt("123", "wwanothercorp").decode()
    r = client.get("/wecom/callback/default", query_string={
        "msg_signature": crypto.sign(ts, nonce, encrypted), "timestamp": ts, "nonce": nonce, "echostr": encrypted})
    assert (r.status_code, r.get_data(as_text=True)) == (403, "wrong corp id")


def test_accepted_callback_answers_empty_200_and_is_processed(sender, runtime) -> None:
    r = sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    assert (r.status_code, r.data) == (200, b"")
    with runtime.Session() as s:
        row = s.scalar(select(Inbox))
        assert (row.routing_key, row.status) == (ADD, "processed")
        assert s.scalar(select(Customer.name)) == "王小明😀"


def test_a_retried_delivery_is_acknowledged_and_processed_once(sender, runtime, fake_wecom) -> None:
    plaintext = sender.xml(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    for _ in range(3):  # WeCom's retries re-send the same payload; each retry has a fresh nonce/signature
        assert sender.post_xml(plaintext).status_code == 200
    assert inbox_count(runtime) == 1
    assert len(fake_wecom.calls("externalcontact/get")) == 1


def test_two_events_in_the_same_second_differing_only_by_customer_are_both_kept(sender, runtime) -> None:
    """The dedup bug other SDKs had (FromUserName+CreateTime): both of these must be processed."""
    for ext in ("wmCustomer0001", "wmCustomer0002"):
        assert sender.post(ADD, ExternalUserID=ext, UserID="zhangsan", CreateTime=1732000000).status_code == 200
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 2
    assert inbox_count(runtime) == 2


def test_app_messages_dedup_on_msgid(sender, runtime) -> None:
    sender.post("message/text", MsgId="111", Content="a")
    sender.post("message/text", MsgId="111", Content="a", CreateTime=1)  # same MsgId: a retry
    sender.post("message/text", MsgId="112", Content="a")
    assert inbox_count(runtime) == 2


def _signed(crypto: CallbackCrypto, plaintext: str, **kw):  # type: ignore[no-untyped-def]
    return build_callback(crypto, plaintext, 1000002, **kw)


@pytest.mark.parametrize("case, status, reason", [
    ("forged signature", 403, "bad signature"),
    ("wrong corp", 403, "wrong corp id"),
    ("stale", 403, "stale timestamp"),
    ("future", 403, "stale timestamp"),
    ("bad timestamp", 400, "timestamp is not a number"),
    ("missing signature", 400, "missing msg_signature"),
    ("malformed envelope", 400, "malformed XML"),
    ("xxe", 400, "forbidden XML construct: DTDForbidden"),
    ("no encrypt", 400, "no Encrypt element"),
    ("garbage ciphertext", 400, "undecryptable message"),
    ("oversized", 413, "body too large"),
])
def test_rejections_store_nothing(client, runtime, crypto, sender, case, status, reason) -> None:
    plaintext = sender.xml(ADD, ExternalUserID="wmCustomer0001")
    params, body = _signed(crypto, plaintext)
    if case == "forged signature":
        params["msg_signature"] = "0" * 40
    elif case == "wrong corp":
        params, body = _signed(CallbackCrypto(crypto.token, crypto.aes_key, "wwanothercorp"), plaintext)
    elif case == "stale":
        params, body = _signed(crypto, plaintext, timestamp=str(int(time.time()) - 901))
    elif case == "future":
        params, body = _signed(crypto, plaintext, timestamp=str(int(time.time()) + 901))
    elif case == "bad timestamp":
        params["timestamp"] = "soon"
    elif case == "missing signature":
        del params["msg_signature"]
    elif case == "malformed envelope":
        body = body[:-5]
    elif case == "xxe":
        body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + body.replace(
            b"<ToUserName>", b"<ToUserName>&e;", 1)
    elif case == "no encrypt":
        body = b"<xml><ToUserName>x</ToUserName></xml>"
    elif case == "garbage ciphertext":
        enc = "QUJD" * 8
        params["msg_signature"] = crypto.sign(params["timestamp"], params["nonce"], enc)
        body = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>".encode()
    elif case == "oversized":
        params, body = _signed(crypto, plaintext.replace("</xml>", "<Pad>" + "x" * 70_000 + "</Pad></xml>"))
    r = client.post("/wecom/callback/default", query_string=params, data=body)
    assert (r.status_code, r.get_data(as_text=True)) == (status, reason)
    assert inbox_count(runtime) == 0


def test_clock_check_switched_off_accepts_old_timestamps(client, runtime, crypto, sender, monkeypatch) -> None:
    monkeypatch.setattr(runtime, "settings", runtime.settings.with_overrides(max_clock_skew=0))
    params, body = _signed(crypto, sender.xml(ADD, ExternalUserID="wmCustomer0001"), timestamp="1409659813")
    assert client.post("/wecom/callback/default", query_string=params, data=body).status_code == 200
    assert inbox_count(runtime) == 1


def test_oversized_chunked_body_without_content_length_is_413(client, runtime, crypto, sender) -> None:
    params, body = _signed(crypto, sender.xml(ADD).replace("</xml>", "<Pad>" + "x" * 70_000 + "</Pad></xml>"))
    import io

    r = client.post("/wecom/callback/default", query_string=params, input_stream=io.BytesIO(body),
                    headers={"Transfer-Encoding": "chunked"},
                    environ_overrides={"wsgi.input_terminated": True})  # as gunicorn sets it for chunked bodies
    assert r.status_code == 413, r.data
    assert inbox_count(runtime) == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_app_is_404(client, runtime, method) -> None:
    r = getattr(client, method)("/wecom/callback/nosuchapp", query_string={"msg_signature": "x", "timestamp": "1",
                                                                           "nonce": "1", "echostr": "x"})
    assert (r.status_code, r.get_data(as_text=True)) == (404, "unknown app")
    assert inbox_count(runtime) == 0


def test_database_down_is_503_so_wecom_retries(client, runtime, sender, monkeypatch) -> None:
    sender.post("message/text", MsgId="1")  # warms the app cache, as a running service would have it
    from models.db import make_engine, write_engine

    gone = make_engine("sqlite:////nonexistent-dir/db.sqlite")
    monkeypatch.setattr(runtime, "engine", gone)
    monkeypatch.setattr(runtime, "write_engine", write_engine(gone))
    monkeypatch.setattr(runtime, "first_write_engine", write_engine(gone, first=True))
    r = sender.post("message/text", MsgId="2")
    assert (r.status_code, r.get_data(as_text=True)) == (503, "database unavailable")


def test_only_the_dedup_key_makes_a_callback_a_retry(runtime, sender, cleaner, caplog) -> None:
    """Another integrity error (here the app deleted after this process cached it: the row's app_pk names
    no app) is no retry: the answer is a 500, so WeCom delivers the callback again, and the log line
    names the constraint, not the callback's content. A true retry is still answered 200 and kept once."""
    assert sender.post("message/text", MsgId="1").status_code == 200  # warms the app cache
    assert sender.post("message/text", MsgId="1").status_code == 200  # a retry: stored once
    assert inbox_count(runtime) == 1
    cleaner.clean()  # every row, the app's too; the process still has the app cached
    r = sender.post("message/text", MsgId="2", Content="手机 13800138000")
    assert (r.status_code, r.get_data(as_text=True)) == (500, "not stored")
    assert inbox_count(runtime) == 0
    line = next(rec.getMessage() for rec in caplog.records if "not stored" in rec.getMessage())
    assert "refused the row" in line and "13800138000" not in line


def test_redis_down_still_stores_and_acknowledges_then_the_sweeper_processes(sender, runtime, monkeypatch) -> None:
    import jobs.queue
    from jobs.maintenance import sweep
    from redis.exceptions import ConnectionError as RedisDown

    real_enqueue = jobs.queue.enqueue

    def redis_down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RedisDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("web.callback.enqueue", redis_down)
    r = sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    assert (r.status_code, r.data) == (200, b"")
    with runtime.Session() as s:
        assert s.scalar(select(Inbox.status)) == "received"
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
    monkeypatch.setattr("web.callback.enqueue", real_enqueue)
    assert sweep(older_than=0) == {"inbox": 1, "outbox": 0}
    with runtime.Session() as s:
        assert s.scalar(select(Inbox.status)) == "processed"
        assert s.scalar(select(Customer.name)) == "王小明😀"


def test_a_handler_error_never_becomes_a_5xx(sender, runtime, monkeypatch) -> None:
    from handlers import registry

    def broken(ctx, event):  # type: ignore[no-untyped-def]
        raise RuntimeError("handler bug")

    monkeypatch.setitem(registry._HANDLERS, ADD, [broken])
    r = sender.post(ADD, ExternalUserID="wmCustomer0001")
    assert (r.status_code, r.data) == (200, b"")
    with runtime.Session() as s:
        row = s.scalar(select(Inbox))
        assert row.status == "failed"
        assert "handler bug" in row.error


def test_unknown_event_kind_is_stored_acknowledged_and_unhandled(sender, runtime) -> None:
    xml = sender.xml(ADD).replace("change_external_contact", "some_future_event")
    assert sender.post_xml(xml).status_code == 200
    with runtime.Session() as s:
        row = s.scalar(select(Inbox))
        assert (row.routing_key, row.status) == ("event/some_future_event", "unhandled")


def test_a_callback_is_answered_under_the_callers_request_id(client, runtime, crypto, sender, caplog) -> None:
    """The POST skips Flask's dispatch (web/callback_wsgi.py) but keeps what its hooks gave it: the caller's
    X-Request-Id echoed, a fresh one otherwise, and on its log lines."""
    params, body = build_callback(crypto, sender.xml(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan"), 1)
    given = client.post(sender.path, query_string=params, data=body, headers={"X-Request-Id": "lb-7f3a.42:1"})
    assert (given.status_code, given.headers["X-Request-Id"]) == (200, "lb-7f3a.42:1")
    fresh = client.post(sender.path, query_string=params, data=body, headers={"X-Request-Id": "no spaces"})
    assert fresh.status_code == 200 and len(fresh.headers["X-Request-Id"]) == 32
    with caplog.at_level("WARNING", logger="web.callback"):
        refused = client.post(sender.path, query_string={**params, "msg_signature": "x" * 40}, data=body,
                              headers={"X-Request-Id": "rid-403"})
    assert (refused.status_code, refused.headers["X-Request-Id"]) == (403, "rid-403")
    assert [r.request_id for r in caplog.records if "callback rejected" in r.getMessage()] == ["rid-403"]
    assert inbox_count(runtime) == 1
