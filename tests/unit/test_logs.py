"""Log lines: a request id on each (the caller's X-Request-Id or a new one, echoed in the response), JSON
lines with SCRM_LOG_FORMAT=json, and no secret, token or customer phone number in any line."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from support import AES_KEY, SECRET, TOKEN
from web import logs

ADD = "change_external_contact/add_external_contact"


@pytest.fixture
def captured(monkeypatch):  # type: ignore[no-untyped-def]
    """What our handler writes, in the format SCRM_LOG_FORMAT asks for (set before calling)."""
    root = logging.getLogger()
    handlers: list[logging.Handler] = []

    def capture(fmt: str) -> io.StringIO:
        monkeypatch.setenv("SCRM_LOG_FORMAT", fmt)
        buffer = io.StringIO()
        handler = logging.StreamHandler(buffer)
        logs.adopt(handler)
        root.addHandler(handler)
        handlers.append(handler)
        return buffer

    monkeypatch.setattr(root, "level", logging.INFO)
    yield capture
    for handler in handlers:
        root.removeHandler(handler)


def test_the_callers_request_id_is_echoed(client) -> None:
    answer = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.42:1"})
    assert answer.headers["X-Request-Id"] == "lb-7f3a.42:1"


@pytest.mark.parametrize("given", [None, "", "two words", "x" * 65, 'id" forged="1'])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(client, given: str | None) -> None:
    headers = {} if given is None else {"X-Request-Id": given}
    first = client.get("/healthz", headers=headers).headers["X-Request-Id"]
    second = client.get("/healthz", headers=headers).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_an_api_error_carries_the_request_id_too(client) -> None:
    answer = client.get("/api/v1/customers", headers={"X-Request-Id": "rid-401"})
    assert (answer.status_code, answer.headers["X-Request-Id"]) == (401, "rid-401")


def test_json_lines_carry_the_request_id(client, captured) -> None:
    buffer = captured("json")
    answer = client.post("/wecom/callback/default?msg_signature=bad&timestamp=1&nonce=n", data=b"<xml/>",
                         headers={"X-Request-Id": "rid-json-1"})
    assert 400 <= answer.status_code < 500
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    (rejected,) = [line for line in lines if "callback rejected" in line["message"]]
    assert rejected["request_id"] == "rid-json-1"
    assert (rejected["level"], rejected["logger"]) == ("WARNING", "web.callback")
    assert rejected["time"].endswith("+00:00")


def test_text_lines_carry_the_request_id(client, captured) -> None:
    buffer = captured("text")
    client.post("/wecom/callback/default?msg_signature=bad&timestamp=1&nonce=n", data=b"<xml/>",
                headers={"X-Request-Id": "rid-text-1"})
    assert re.search(r" WARNING web\.callback \[rid-text-1\] callback rejected", buffer.getvalue())


def test_no_secret_token_or_phone_number_in_the_logs(client, sender, make_token, caplog, fake_wecom) -> None:
    """A callback processed end to end (access token fetched, customer with a remark mobile stored), a
    rejected one, and a search by that mobile: none of them in any line, at any level."""
    caplog.set_level(logging.DEBUG)
    headers = make_token()
    assert sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan").status_code == 200
    client.post("/wecom/callback/default?msg_signature=bad&timestamp=1&nonce=n", data=b"<xml/>")
    assert client.get("/api/v1/customers?keyword=13800000000", headers=headers).status_code == 200
    calls = fake_wecom.calls()
    assert any("externalcontact/get" in str(c) for c in calls)  # WeCom was called, with an access token
    text = caplog.text
    assert "callback rejected" in text
    for secret in (SECRET, TOKEN, AES_KEY, "13800000000", headers["Authorization"].split()[1], "access_token"):
        assert secret not in text
