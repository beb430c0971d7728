"""gunicorn settings of the service: `scrm web` uses them, plain gunicorn with `-c python:web.gunicorn_conf`.

- The app is `app:create_app()`; the access log is on (stdout), one line per request with its request id
  and the path without the query string (a customer search may carry a phone number); JSON with
  `SCRM_LOG_FORMAT=json` like every other line (web/logs.py).
- `on_starting` runs once in the master before any worker: a schema behind the code stops gunicorn there
  with the hint to migrate and exit status 3 (gunicorn's own "worker failed to boot"), instead of workers
  that exit and are restarted forever. A database that is down does not stop it: workers start and answer
  503 until it is back (web/startup.py).
Command-line options override these (`scrm web -w 4 -b 0.0.0.0:8000`).
"""

from __future__ import annotations

import sys
from typing import Any

from gunicorn import glogging

from web import logs

wsgi_app = "app:create_app()"
bind = ["127.0.0.1:8000"]
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%(' + logs.ACCESS_ID_ATOM + ')s'

SCHEMA_EXIT = 3
"""gunicorn's exit status when a worker fails to boot; an old schema is that failure, found earlier."""


class Logger(glogging.Logger):
    """gunicorn's error and access logs with our request id filter and, on demand, our JSON lines."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            logs.adopt(handler)
        for handler in self.access_log.handlers:
            logs.adopt(handler, message_only=True)


logger_class = Logger


def on_starting(server: Any) -> None:
    """Refuse an old schema once, before any worker starts; only warn about a database that is down."""
    from sqlalchemy.exc import OperationalError

    from config import load_settings
    from migrations.runner import SchemaNotCurrent, require_current
    from models.db import make_engine

    engine = make_engine(load_settings().database_url)
    try:
        require_current(engine)
    except SchemaNotCurrent as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(SCHEMA_EXIT) from None
    except OperationalError:
        server.log.warning("database unreachable at start-up: workers answer 503 until it is back")
    finally:
        engine.dispose()
