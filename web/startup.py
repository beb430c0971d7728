"""Start-up of a web process: refuse an old schema once and clearly, ride out a database that is down.

Two failures look alike at start-up and must be treated oppositely:
- the schema is behind the code: nothing will work until an operator migrates, so the process fails
  (under gunicorn the exception is a worker boot error: the master stops with exit 3 instead of
  restarting workers forever; the shipped gunicorn config checks before any worker starts, see
  `web/gunicorn_conf.py`);
- the database cannot be reached: it will come back, so the process starts anyway, answers 503 (callbacks
  as text so WeCom retries, the API in its error shape) and finishes its start-up on the first request
  after the database answers. A master whose workers all died on a DB outage took the whole web tier down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from migrations.runner import SchemaNotCurrent, require_current

log = logging.getLogger(__name__)

RETRY_EVERY = 1.0
"""Seconds between attempts to finish start-up while the DB is down; requests in between get 503 at once."""


def callback_unavailable() -> Response:
    """WeCom's 503: a short text, and WeCom retries."""
    return Response("database unavailable", status=503, mimetype="text/plain")


def log_unavailable(exc: OperationalError, method: str, path: str) -> None:
    log.error("database unavailable: %s on %s %s", type(exc.orig).__name__ if exc.orig is not None
              else type(exc).__name__, method, path)


def unavailable() -> Response:
    """503 in the shape the caller expects: WeCom retries any non-200; API clients read our error body."""
    if request.path.startswith("/wecom/"):
        return callback_unavailable()
    body = {"error": {"code": "database_unavailable", "message": "the database cannot be reached; retry later"}}
    return jsonify(body), 503, {"Retry-After": "5"}  # type: ignore[return-value]


class Startup:
    """The schema check and `finish` (e.g. creating the environment's app) for one process.

    `run()` at start-up; when the DB is down, `before_request` retries at most every RETRY_EVERY seconds.
    Once done, it costs one attribute read per request."""

    def __init__(self, engine: Engine, finish: Callable[[], None]) -> None:
        self._engine = engine
        self._finish = finish
        self._lock = threading.Lock()
        self._next_try = 0.0
        self.done = False

    def run(self) -> bool:
        """True when start-up is complete; False when the DB is down (logged). Raises SchemaNotCurrent."""
        try:
            require_current(self._engine)
            self._finish()
        except OperationalError as exc:
            log.warning("database unreachable at start-up (%s); answering 503 until it is back",
                        type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__)
            return False
        self.done = True
        return True

    def before_request(self) -> Any:
        if self.done or request.path == "/healthz":
            return None
        if self._lock.acquire(blocking=False):  # one thread tries; the others answer 503 without waiting
            try:
                if not self.done and time.monotonic() >= self._next_try:
                    self._next_try = time.monotonic() + RETRY_EVERY
                    if self._retry():
                        log.info("database reachable again; start-up complete")
            finally:
                self._lock.release()
        return None if self.done else unavailable()

    def _retry(self) -> bool:
        try:
            return self.run()
        except SchemaNotCurrent as exc:  # a request cannot stop the process; say it on every retry
            log.error("%s", exc)
            return False


def install(app: Flask, startup: Startup) -> None:
    """Run start-up now; hook the retry and the app-wide 503 for a DB lost later, mid-request. The object
    stays in `app.extensions["scrm.startup"]` for web/callback_wsgi.py, which hands Flask every callback
    that arrives while start-up is pending."""
    app.extensions["scrm.startup"] = startup
    if not startup.run():
        app.before_request(startup.before_request)

    @app.errorhandler(OperationalError)
    def _database_unavailable(exc: OperationalError) -> Any:
        log_unavailable(exc, request.method, request.path)
        return unavailable()
