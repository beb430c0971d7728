"""The callback crypto against WeCom's official vectors (tests/fixtures/wecom_vectors.json; docs/PROTOCOL.md
§3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wecom.crypto import CallbackCrypto, CallbackRejected

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "wecom_vectors.json").read_text())
APP = VECTORS["app"]


@pytest.fixture
def official() -> CallbackCrypto:
    return CallbackCrypto(APP["token"], APP["encoding_aes_key"], APP["corp_id"])


def test_official_url_verification(official: CallbackCrypto) -> None:
    v = VECTORS["verify_url"]
    assert official.verify_url(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"]) == v["expected_plaintext"]


def test_official_message_decryption(official: CallbackCrypto) -> None:
    v = VECTORS["decrypt_message"]
    plain = official.decrypt(v["body"].encode(), v["msg_signature"], v["timestamp"], v["nonce"])
    assert plain == v["expected_plaintext"]


def test_second_official_vector_set_url_verification() -> None:
    """The WeCom-era (`ww…`) sample from sbzhu/weworkapi_python, quoted in docs/PROTOCOL.md."""
    crypto = CallbackCrypto("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
                            "ww1436e0e65a779aee")
    echostr = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
    assert crypto.verify_url("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683",
                             echostr) == "1288432023552776189"


def test_forged_signature_is_403(official: CallbackCrypto) -> None:
    v = VECTORS["decrypt_message"]
    with pytest.raises(CallbackRejected) as err:
        official.decrypt(v["body"].encode(), "0" * 40, v["timestamp"], v["nonce"])
    assert (err.value.status, err.value.reason) == (403, "bad signature")


def test_wrong_corp_id_is_403_on_get_and_post() -> None:
    other = CallbackCrypto(APP["token"], APP["encoding_aes_key"], "wwsomeothercorp")
    v, m = VECTORS["verify_url"], VECTORS["decrypt_message"]
    with pytest.raises(CallbackRejected) as err:
        other.verify_url(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"])
    assert (err.value.status, err.value.reason) == (403, "wrong corp id")
    with pytest.raises(CallbackRejected) as err:
        other.decrypt(m["body"].encode(), m["msg_signature"], m["timestamp"], m["nonce"])
    assert (err.value.status, err.value.reason) == (403, "wrong corp id")


def test_passive_reply_round_trips(official: CallbackCrypto) -> None:
    from defusedxml.ElementTree import fromstring

    reply = official.encrypt_reply("<xml><Content>好的</Content></xml>", nonce="123", timestamp="1409659813")
    env = fromstring(reply)
    assert env.findtext("TimeStamp") == "1409659813" and env.findtext("Nonce") == "123"
    body = f"<xml><Encrypt><![CDATA[{env.findtext('Encrypt')}]]></Encrypt></xml>".encode()
    assert official.decrypt(body, env.findtext("MsgSignature"), "1409659813", "123") == "<xml><Content>好的</Content></xml>"


def test_callback_encryption_round_trips(official: CallbackCrypto) -> None:
    body, sig = official.encrypt_callback("<xml><A>1</A></xml>", "n1", "1700000000", agent_id=5)
    assert official.decrypt(body, sig, "1700000000", "n1") == "<xml><A>1</A></xml>"


@pytest.mark.parametrize("body, reason", [
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
     "forbidden XML construct: DTDForbidden"),
    (b"<xml><Encrypt>abc", "malformed XML"),
    (b"<xml><Other>1</Other></xml>", "no Encrypt element"),
])
def test_bad_envelopes_are_400(official: CallbackCrypto, body: bytes, reason: str) -> None:
    with pytest.raises(CallbackRejected) as err:
        official.decrypt(body, "x", "1", "1")
    assert (err.value.status, err.value.reason) == (400, reason)
