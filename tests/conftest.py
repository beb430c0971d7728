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
    """SQLite in the process's own temporary directory, or SCRM_TEST_DATABASE_URL's database with the
    pytest-xdist worker id appended (`t_x_gw0`, `t_x_gw1`, …): each worker process has a session of its
    own, and the Cleaner's DELETEs between tests would otherwise empty tables under the other worker."""
    url = os.environ.get("SCRM_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_dir}/scrm-test.db"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and url.startswith("mysql"):
        parsed = make_url(url)
        url = parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)
    return url


def _server_query(url: str, *statements: str) -> None:
    parsed = make_url(url)
    server = make_engine(parsed.set(database="").render_as_string(hide_password=False))
    try:
        with server.begin() as conn:
            for statement in statements:
                conn.execute(text(statement.format(name=parsed.database)))
    finally:
        server.dispose()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """One migrated database per test session (per xdist worker); MariaDB gets a fresh database of its own,
    dropped at the end so parallel runs leave no `…_gwN` databases behind."""
    with tempfile.TemporaryDirectory() as tmp:
        url = _database_url(tmp)
        mysql = url.startswith("mysql")
        if mysql:
            _server_query(url, "DROP DATABASE IF EXISTS `{name}`",
                          "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        engine = make_engine(url)
        runner.upgrade(engine)
        engine.dispose()
        yield url
        if mysql:
            _server_query(url, "DROP DATABASE IF EXISTS `{name}`")


class Cleaner:
    """Empties, between tests, only the tables that hold rows: one query finds them (most tests write to a
    handful of the ~40 tables), then a DELETE each, children first, in one transaction on a kept engine."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self.tables = list(reversed(Base.metadata.sorted_tables))
        quote = self.engine.dialect.identifier_preparer.quote
        self.probe = " UNION ALL ".join(f"SELECT {i} FROM (SELECT 1 AS x FROM {quote(t.name)} LIMIT 1) AS p{i}"
                                        for i, t in enumerate(self.tables))

    def clean(self) -> None:
        with self.engine.begin() as conn:
            for (i,) in sorted(conn.exec_driver_sql(self.probe).all()):
                conn.execute(self.tables[i].delete())


@pytest.fixture(scope="session")
def cleaner(database_url: str) -> Iterator[Cleaner]:
    cleaner = Cleaner(database_url)
    yield cleaner
    cleaner.engine.dispose()


@pytest.fixture
def clean_db(database_url: str, cleaner: Cleaner) -> str:
    cleaner.clean()
    return database_url


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeWeComServer]:
    with FakeWeComServer() as server:
        yield server


@pytest.fixture
def fake_wecom(fake_server: FakeWeComServer) -> FakeWeCom:
    """The session's fake, emptied (seeds, faults, call log) and seeded with SEED; done on its state object
    directly, as its `/fake/state` and `/fake/seed` routes do, which spares two HTTP requests per test."""
    fake_server.state.reset()
    fake_server.state.seed(SEED)
    return FakeWeCom(fake_server.url)


@pytest.fixture(scope="session")
def session_settings(database_url: str, fake_server: FakeWeComServer, tmp_path_factory) -> Settings:  # type: ignore[no-untyped-def]
    """Uploaded files go to a temporary directory (tests that look at it set their own)."""
    return make_settings(database_url, FakeWeCom(fake_server.url).api_base,
                         storage_dir=str(tmp_path_factory.mktemp("files")))


@pytest.fixture
def settings(clean_db: str, fake_wecom: FakeWeCom, session_settings: Settings) -> Settings:
    return session_settings


@pytest.fixture(scope="session")
def session_app(session_settings: Settings):  # type: ignore[no-untyped-def]
    """One Flask app for the session: building one compiles ~400 URL rules, which was most of each test's
    setup. The `app` fixture gives each test that app as a fresh one would be."""
    from app import create_app

    flask_app = create_app({"TESTING": True}, settings=session_settings)
    yield flask_app
    flask_app.extensions["scrm"].engine.dispose()


@pytest.fixture
def app(settings: Settings, session_app):  # type: ignore[no-untyped-def]
    """The session's app with what a test could have left behind gone: the per-process caches (the
    callback's app cache, the runtime's WeCom clients, app keys, queues, the staff it has seen, and
    process-local state such as app-message slots), pooled connections, and the environment's app row (which `clean_db` deleted)
    stored again, as `create_app` does."""
    from app import _ensure_env_app
    from jobs.runtime import install
    from models.corp import save_app
    from web.callback import apps

    runtime = session_app.extensions["scrm"]
    apps.clear()
    for cache in (runtime._clients, runtime._app_keys, runtime._queues, runtime.local, runtime.known_staff):
        cache.clear()
    install(runtime)
    _ensure_env_app(runtime, settings, save_app)
    yield session_app
    runtime.engine.dispose()


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
