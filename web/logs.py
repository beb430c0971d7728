"""Log lines for every process (web, worker, cron, CLI): one set-up, a request id on each line, JSON on demand.

It lives with the web because the request id is born in a request: taken from the caller's `X-Request-Id`
(when it looks like an id) or made here, echoed in the response's `X-Request-Id`, and carried in the meta
of every job the request enqueues (jobs/queue.py), so a worker's lines about a callback carry the id of the
request that stored it. Outside both, a line says `-`. It imports nothing of ours: gunicorn's config, the
`scrm` command and `rq worker` processes load it before the app.

`SCRM_LOG_FORMAT=json` writes one JSON object per line (time in UTC, level, logger, message, request_id,
exc); anything else, text. Secrets stay out: urllib3's DEBUG lines carry WeCom's access_token in the URL,
so urllib3 stays at WARNING, and gunicorn's access line (web/gunicorn_conf.py) logs the path without the
query string, where a customer search could carry a phone number.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request

REQUEST_ID_HEADER = "X-Request-Id"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
ACCESS_ID_ATOM = "{x-request-id}o"
"""gunicorn's access-log atom for our response header (what the access line's request id is read from)."""

_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("scrm_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served, else of the job being run (its meta, else its own id)."""
    rid = _request_id.get()
    if rid is not None:
        return rid
    from rq import get_current_job

    job = get_current_job()
    if job is None:
        return None
    return job.meta.get("request_id") or job.id


def request_id_for(given: str) -> str:
    """The id a request is served under: the caller's X-Request-Id when it looks like one, else a new one."""
    return given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex


@contextlib.contextmanager
def request_scope(rid: str) -> Iterator[None]:
    """Lines written inside carry `rid` (a worker running a job: jobs/worker.py)."""
    token = _request_id.set(rid)
    try:
        yield
    finally:
        _request_id.reset(token)


def json_wanted() -> bool:
    return os.environ.get("SCRM_LOG_FORMAT", "").strip().lower() == "json"


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record a handler writes (gunicorn's access records: from their atoms)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = None
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            rid = record.args.get(ACCESS_ID_ATOM)
        record.request_id = rid if rid and rid != "-" else (current_request_id() or "-")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def adopt(handler: logging.Handler, *, message_only: bool = False) -> None:
    """Give a handler our filter and formatter (`message_only`: text lines already formatted, e.g. gunicorn's
    access lines)."""
    handler.addFilter(RequestIdFilter())
    if json_wanted():
        handler.setFormatter(JsonFormatter())
    elif not message_only:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))


def configure(level: int = logging.INFO) -> None:
    """One handler on the root logger, once per process (create_app may run several times in tests)."""
    root = logging.getLogger()
    if not any(getattr(h, "scrm", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.scrm = True  # type: ignore[attr-defined]
        adopt(handler)
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def install(app: Flask) -> None:
    """The request id for each request: set before the views run, echoed in the response, then forgotten."""

    @app.before_request
    def _take_request_id() -> None:
        request.environ["scrm.request_id_token"] = _request_id.set(request_id_for(request.headers.get(
            REQUEST_ID_HEADER, "")))

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        rid = _request_id.get()
        if rid is not None:
            response.headers[REQUEST_ID_HEADER] = rid
        return response

    @app.teardown_request
    def _forget_request_id(_exc: BaseException | None) -> None:
        token = request.environ.pop("scrm.request_id_token", None)
        if token is not None:
            _request_id.reset(token)
