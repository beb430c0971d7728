"""Shared fixtures: a migrated database (SQLite, or MariaDB when SCRM_TEST_DATABASE_URL says so), the fake
WeCom over real HTTP, an app with jobs inline, and a sender that encrypts callbacks as WeCom does."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import Settings
from migrations import runner
from models import Base
from models.db import make_engine
from support import AES_KEY, CORP_ID, SEED, TOKEN, FakeWeCom, Sender, make_settings
from wecom.crypto import CallbackCrypto
from wecom.fake.server import FakeWeComServer

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
def fake_wecom(fake_server: FakeWeComServer) -> Iterator[FakeWeCom]:
    fake = FakeWeCom(fake_server.url)
    fake.reset()
    fake.seed(SEED)
    yield fake
    fake.reset()


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


@pytest.fixture
def sender(client, crypto: CallbackCrypto) -> Sender:  # type: ignore[no-untyped-def]
    return Sender(client, crypto)


@pytest.fixture
def make_token(runtime):  # type: ignore[no-untyped-def]
    from web.auth import create_token

    def make(role: str = "super_admin", userid: str | None = None, name: str = "t") -> dict[str, str]:
        """A token for every corp; one naming a staff member is bound to the test corp (userids are only
        unique within a corp, and tests add other corps)."""
        with runtime.WriteSession.begin() as s:
            value = create_token(s, name, role, userid=userid, corp_id=CORP_ID if userid else None)
        return {"Authorization": f"Bearer {value}"}

    return make
