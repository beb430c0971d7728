"""The callback's POST before Flask: a WSGI layer that answers `POST /wecom/callback/<slug>` itself.

WeCom's callbacks are the one route under load (bench_ingress --vs-reference), and Flask's dispatch around
them (app and request contexts, URL matching over every route, the before/after/teardown hooks, the
response's finalization) cost about as much CPU as storing the row. This layer does for that one route
what those hooks did for it, and nothing else: the request id (taken or made, set for the log lines,
echoed in `X-Request-Id`), the database-unavailable 503 of web/startup.py, then web/callback.accept, the
very checks, answers and log lines the Flask view gives. Every other request, and a callback while
start-up is still pending (Flask's before_request retries it and answers 503), goes to Flask unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.exc import OperationalError
from werkzeug.wrappers import Request

from web import callback, logs, startup

PREFIX = "/wecom/callback/"


class CallbackDoor:
    """WSGI middleware in front of `app.wsgi_app` (so Flask's test client goes through it too)."""

    def __init__(self, app: Flask) -> None:
        self.flask_wsgi: Callable[..., Iterable[bytes]] = app.wsgi_app
        self.runtime = app.extensions["scrm"]
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        slug = path[len(PREFIX):]
        if (environ.get("REQUEST_METHOD") != "POST" or not path.startswith(PREFIX) or not slug or "/" in slug
                or not self._started()):
            return self.flask_wsgi(environ, start_response)
        rid = logs.request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
        with logs.request_scope(rid):
            request = Request(environ)
            try:
                response = callback.accept(self.runtime, slug, request.args, request.content_length, request.stream)
            except OperationalError as exc:  # what Flask's errorhandler (web/startup.py) answers
                startup.log_unavailable(exc, "POST", path)
                response = startup.callback_unavailable()
        response.headers[logs.REQUEST_ID_HEADER] = rid
        return response(environ, start_response)

    def _started(self) -> bool:
        pending = self.app.extensions.get("scrm.startup")
        return pending is None or pending.done


def install(app: Flask) -> None:
    """Put the door in front of Flask's dispatch (after every extension is set up)."""
    app.wsgi_app = CallbackDoor(app)  # type: ignore[method-assign]
