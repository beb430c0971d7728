"""The callback sender: encrypts a sample event (or any XML) and POSTs it to the service as WeCom would.

Samples live in `samples/<routing key with '/' as '__'>.xml` (Zulip's fixture naming), written as WeCom
documents them. `render_sample` fills in the corp id, a current CreateTime and any field overrides, so
one file serves every test and the demo.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from xml.etree.ElementTree import SubElement, tostring

import requests
from defusedxml.ElementTree import fromstring

from wecom.crypto import CallbackCrypto

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample_names() -> list[str]:
    return sorted(p.stem for p in SAMPLES.glob("*.xml"))


def render_sample(name: str, corp_id: str | None = None, **fields: str | int) -> str:
    """The sample's XML with ToUserName = `corp_id`, CreateTime = now, and `fields` set (added if absent)."""
    path = SAMPLES / f"{name.replace('/', '__')}.xml"
    if not path.is_file():
        raise LookupError(f"no sample {name!r}; known: {', '.join(sample_names())}")
    root = fromstring(path.read_bytes())
    values: dict[str, str | int] = {"CreateTime": int(time.time())}
    if corp_id:
        values["ToUserName"] = corp_id
    values.update(fields)
    for tag, value in values.items():
        elem = root.find(tag)
        if elem is None:
            elem = SubElement(root, tag)
        elem.text = str(value)
    return tostring(root, encoding="unicode")


def build_callback(crypto: CallbackCrypto, plaintext: str, agent_id: int | None = None,
                   timestamp: str | None = None, nonce: str | None = None) -> tuple[dict[str, str], bytes]:
    """The query parameters and body of WeCom's POST for `plaintext`."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))
    body, signature = crypto.encrypt_callback(plaintext, nonce, timestamp, agent_id)
    return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}, body


def post_callback(url: str, crypto: CallbackCrypto, plaintext: str, agent_id: int | None = None,
                  session: requests.Session | None = None, timeout: float = 10.0) -> requests.Response:
    """POST `plaintext`, encrypted, to the callback `url` (`.../wecom/callback/<app>`)."""
    params, body = build_callback(crypto, plaintext, agent_id)
    http = session or requests
    return http.post(url, params=params, data=body, headers={"Content-Type": "text/xml"}, timeout=timeout)

