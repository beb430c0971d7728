"""Shared fixtures: a migrated database (SQLite, or MariaDB when SCRM_TEST_DATABASE_URL says so), the fake
WeCom over real HTTP, an app with jobs inline, and a sender that encrypts callbacks as WeCom does."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterator

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import EnvApp, Settings
from models import Base
from models.db import make_engine
from migrations import runner
from wecom.crypto import CallbackCrypto
from wecom.fake.sender import build_callback, render_sample
from wecom.fake.server import FakeWeComServer

CORP_ID = "wwtestcorp000001"
TOKEN = "TestToken123"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SECRET = "test-app-secret-0001"
AGENT_ID = 1000002

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


def _database_url(tmp_dir: str) -> str:
    return os.environ.get("SCRM_TEST_DATABASE_URL") or f"sqlite:///{tmp_dir}/scrm-test.db"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """One migrated database per test session; MariaDB gets a fresh database of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        url = _database_url(tmp)
        if url.startswith("mysql"):
            parsed = make_url(url)
            server = make_engine(parsed.set(database="").render_as_string(hide_password=False))
            with server.begin() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
                conn.execute(text(f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
            server.dispose()
        engine = make_engine(url)
        runner.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture
def clean_db(database_url: str) -> str:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeWeComServer]:
    with FakeWeComServer() as server:
        yield server


@pytest.fixture
def fake_wecom(fake_server: FakeWeComServer) -> Iterator["FakeWeCom"]:
    fake = FakeWeCom(fake_server.url)
    fake.reset()
    fake.seed(SEED)
    yield fake
    fake.reset()


class FakeWeCom:
    """Test-side handle on the fake WeCom: seed it and read the calls it received, over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.api_base = f"{url}/cgi-bin/"

    def reset(self) -> None:
        requests.delete(f"{self.url}/fake/calls", timeout=5).raise_for_status()
        requests.delete(f"{self.url}/fake/faults", timeout=5).raise_for_status()

    def seed(self, data: dict[str, Any]) -> None:
        requests.post(f"{self.url}/fake/seed", json=data, timeout=5).raise_for_status()

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        params = {"path": path} if path else {}
        return requests.get(f"{self.url}/fake/calls", params=params, timeout=5).json()["calls"]

    def fault(self, path: str, errcode: int, count: int = 1, delay: float = 0.0) -> None:
        requests.post(f"{self.url}/fake/faults", json={"path": path, "errcode": errcode, "count": count,
                                                        "delay": delay}, timeout=5).raise_for_status()

    def expire_tokens(self) -> None:
        requests.post(f"{self.url}/fake/tokens/expire", timeout=5).raise_for_status()


def make_settings(database_url: str, api_base: str, **overrides: Any) -> Settings:
    base = Settings(
        database_url=database_url,
        redis_url=None,
        wecom_api_base=api_base,
        secret_key="test",
        env_app=EnvApp(CORP_ID, TOKEN, AES_KEY, SECRET, AGENT_ID),
    )
    return base.with_overrides(**overrides)


@pytest.fixture
def settings(clean_db: str, fake_wecom: FakeWeCom) -> Settings:
    return make_settings(clean_db, fake_wecom.api_base)


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    from app import create_app
    from web.callback import apps

    apps.clear()
    flask_app = create_app({"TESTING": True}, settings=settings)
    yield flask_app
    flask_app.extensions["scrm"].engine.dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runtime(app):  # type: ignore[no-untyped-def]
    return app.extensions["scrm"]


@pytest.fixture
def crypto() -> CallbackCrypto:
    return CallbackCrypto(TOKEN, AES_KEY, CORP_ID)


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


@pytest.fixture
def sender(client, crypto: CallbackCrypto) -> Sender:  # type: ignore[no-untyped-def]
    return Sender(client, crypto)


@pytest.fixture
def make_token(runtime):  # type: ignore[no-untyped-def]
    from web.auth import create_token

    def make(role: str = "super_admin", userid: str | None = None, name: str = "t") -> dict[str, str]:
        with runtime.WriteSession.begin() as s:
            value = create_token(s, name, role, userid=userid)
        return {"Authorization": f"Bearer {value}"}

    return make
