"""Test support shared by unit and integration tests: the test corp, a handle on the fake WeCom, and a
sender that posts callbacks to the Flask test client as WeCom would."""

from __future__ import annotations

from typing import Any

import requests

from config import EnvApp, Settings
from wecom.crypto import CallbackCrypto
from wecom.fake.sender import build_callback, render_sample

CORP_ID = "wwtestcorp000001"
TOKEN = "TestToken123"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SECRET = "test-app-secret-0001"
AGENT_ID = 1000002
MISSING_ID = 2_000_000_000
"""A primary key no test row has. Not 999: on MariaDB the cleaner deletes rows but AUTO_INCREMENT keeps
counting, so a test worker's ids pass 999 in a full run (CI's tokens did)."""

SEED = {
    "corps": [{"corpid": CORP_ID, "secrets": {SECRET: AGENT_ID}}],
    "users": [
        {"corpid": CORP_ID, "userid": "zhangsan", "name": "张三", "department": [1], "status": 1},
        {"corpid": CORP_ID, "userid": "lisi", "name": "李四", "department": [1], "status": 1},
    ],
    "external_contacts": [
        {"corpid": CORP_ID,
         "external_contact": {"external_userid": "wmCustomer0001", "name": "王小明😀", "type": 1, "gender": 1,
                              "unionid": "ou_union_0001", "avatar": "https://example.invalid/a.png",
                              "corp_name": "", "position": ""},
         "follow_user": [{"userid": "zhangsan", "remark": "老客户", "description": "", "createtime": 1732000000,
                          "tags": [], "remark_mobiles": ["13800000000"], "add_way": 1, "state": "ch-1"}]},
        {"corpid": CORP_ID,
         "external_contact": {"external_userid": "wmCustomer0002", "name": "赵六", "type": 2, "gender": 2,
                              "corp_name": "某某科技", "position": "采购"},
         "follow_user": [{"userid": "lisi", "remark": "", "description": "", "createtime": 1732000100,
                          "tags": [], "remark_mobiles": [], "add_way": 3, "state": ""}]},
    ],
}


class FakeWeCom:
    """Test-side handle on the fake WeCom: seed it and read the calls it received, over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.api_base = f"{url}/cgi-bin/"

    def reset(self) -> None:
        """Seeds, faults and the call log: gone (the fake lives for the whole session)."""
        requests.delete(f"{self.url}/fake/state", timeout=5).raise_for_status()

    def clear_calls(self) -> None:
        requests.delete(f"{self.url}/fake/calls", timeout=5).raise_for_status()

    def seed(self, data: dict[str, Any]) -> None:
        requests.post(f"{self.url}/fake/seed", json=data, timeout=5).raise_for_status()

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        params = {"path": path} if path else {}
        return requests.get(f"{self.url}/fake/calls", params=params, timeout=5).json()["calls"]

    def fault(self, path: str, errcode: int, count: int = 1, delay: float = 0.0, after: int = 0) -> None:
        requests.post(f"{self.url}/fake/faults", json={"path": path, "errcode": errcode, "count": count,
                                                        "delay": delay, "after": after}, timeout=5).raise_for_status()

    def expire_tokens(self) -> None:
        requests.post(f"{self.url}/fake/tokens/expire", timeout=5).raise_for_status()


def make_settings(database_url: str, api_base: str, **overrides: Any) -> Settings:
    base = Settings(
        database_url=database_url,
        redis_url=None,
        wecom_api_base=api_base,
        secret_key="test",
        env_app=EnvApp(CORP_ID, TOKEN, AES_KEY, SECRET, AGENT_ID),
        sidebar_authorize_url=api_base.removesuffix("cgi-bin/") + "connect/oauth2/authorize",
        sidebar_secure_cookie=False,
        sidebar_jssdk_url="",
    )
    return base.with_overrides(**overrides)


class Sender:
    """Posts callbacks to the test client exactly as WeCom would (encrypted, signed, with a fresh nonce)."""

    def __init__(self, client: Any, crypto: CallbackCrypto, slug: str = "default") -> None:
        self.client = client
        self.crypto = crypto
        self.path = f"/wecom/callback/{slug}"

    def xml(self, name: str, **fields: Any) -> str:
        return render_sample(name, corp_id=self.crypto.corp_id, **fields)

    def post_xml(self, plaintext: str, **kwargs: Any) -> Any:
        params, body = build_callback(self.crypto, plaintext, AGENT_ID, **kwargs)
        return self.client.post(self.path, query_string=params, data=body, content_type="text/xml")

    def post(self, name: str, **fields: Any) -> Any:
        return self.post_xml(self.xml(name, **fields))
