"""What a job needs to run: settings, DB sessions, Redis and WeCom clients, built once per process.

The web app installs its runtime in `create_app`; a process started by plain `rq worker` never calls
`create_app`, so `current()` builds one from the environment on first use, the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from config import Settings, load_settings
from models import App
from models.corp import mark_credentials_broken
from models.db import make_engine, make_session_factory, write_engine
from wecom.client import CredentialsBroken, WeComClient

log = logging.getLogger(__name__)

APP_MEMO_SECONDS = 30.0


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    Session: sessionmaker
    WriteSession: sessionmaker
    write_engine: Engine
    """`engine` for transactions that write (on SQLite: BEGIN IMMEDIATE through the writer gate)."""
    FirstWriteSession: sessionmaker
    """`WriteSession` for what a customer is waiting on (a welcome's chunk and its send): on SQLite these
    pass the writer gate ahead of the other jobs' transactions, as the callback's insert does."""
    first_write_engine: Engine
    """`write_engine` for the callback view's inbox inserts, which pass SQLite's writer gate first."""
    redis: Any = None
    _clients: dict[tuple[str, str], WeComClient] = field(default_factory=dict)
    _app_keys: dict[int, tuple[tuple[str, str], str | None, float]] = field(default_factory=dict)
    _queues: dict[str, Any] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)
    """State one process keeps for itself when there is no Redis to share it (e.g. app-message slots)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    known_staff: dict[str, set[str]] = field(default_factory=dict)
    """Per corp, the userids this process has found a staff row for (jobs/outbound.py `_unknown_staff`)."""

    @property
    def single_writer(self) -> bool:
        """SQLite: one write transaction at a time on the whole database, so a long one makes every other
        writer (the callback's insert, a welcome) wait; MySQL/MariaDB lock rows."""
        return self.engine.dialect.name == "sqlite"

    def queue(self, name: str) -> Any:
        """The RQ queue `name`, made once per process (RQ Queue objects are cheap but not free)."""
        q = self._queues.get(name)
        if q is None:
            from rq import Queue

            q = self._queues[name] = Queue(name, connection=self.redis)
        return q

    def client_for_app(self, app_pk: int) -> WeComClient:
        """The API client of one app, reused across jobs so its HTTP connections stay open. The app's
        corp and secret are read again after APP_MEMO_SECONDS: every effect asks, and a query per effect
        was 9 % of a kf worker's CPU; a changed secret is picked up within that time. An app whose
        secret gettoken refused raises `CredentialsBroken` here, before any call to WeCom."""
        with self._lock:
            key, broken, until = self._app_keys.get(app_pk, (("", ""), None, 0.0))
        if until < time.monotonic():
            with self.Session() as s:
                app = s.scalar(select(App).where(App.id == app_pk))
                if app is None:
                    raise LookupError(f"app {app_pk} no longer exists")
                key, broken = (app.corp.corp_id, app.secret), app.credentials_error
        with self._lock:
            if until < time.monotonic():
                self._app_keys[app_pk] = (key, broken, time.monotonic() + APP_MEMO_SECONDS)
            if broken is not None:
                raise CredentialsBroken(broken)
            client = self._clients.get(key)
            if client is None:
                client = WeComClient(key[0], key[1], self.settings.wecom_api_base, redis=self.redis,
                                     on_bad_secret=lambda reason: self._credentials_broken(key, reason))
                self._clients[key] = client
        return client

    def forget_apps(self) -> None:
        """Read every app's credentials again on next use (after an API change to an app)."""
        with self._lock:
            self._app_keys.clear()

    def _credentials_broken(self, key: tuple[str, str], reason: str) -> None:
        """gettoken refused this corp's secret: record it on its apps, for every process to see."""
        with self.WriteSession.begin() as s:
            slugs = mark_credentials_broken(s, key[0], key[1], reason)
        log.error("credentials of app(s) %s marked broken: calls wait until the secret changes", ", ".join(slugs))


def build_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.database_url)
    redis = None
    if settings.redis_url:
        from redis import Redis

        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    return Runtime(
        settings=settings,
        engine=engine,
        Session=make_session_factory(engine),
        WriteSession=make_session_factory(engine, writer=True),
        write_engine=write_engine(engine),
        FirstWriteSession=make_session_factory(engine, writer=True, first=True),
        first_write_engine=write_engine(engine, first=True),
        redis=redis,
    )


_current: Runtime | None = None
_current_lock = threading.Lock()


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    global _current
    with _current_lock:
        if _current is None:
            _current = build_runtime(load_settings())
        return _current
