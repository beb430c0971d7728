"""The WeCom callback door: `/wecom/callback/<app>`.

GET answers URL verification. POST stores the decrypted callback in the inbox and enqueues it; nothing
else happens here (no CRM logic, no WeCom API call), except that a bot command is processed right away
after it is stored so its answer can ride in the response as a passive reply (`jobs.bot`).
The order of checks is deliberate: cheap, stateless checks first (app, size, parameters, clock), then
signature and decryption, and only a callback that passed all of them touches the DB. A rejection is a
4xx with a short reason and one log line; once the row is stored the answer is 200 whatever the handlers
later do, because any other status makes WeCom retry a callback we already hold.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from flask import Blueprint, Response, current_app, request
from gunicorn.http.errors import ParseException
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from jobs import bot as bot_jobs
from jobs.events import batch_flag, push_inbox
from jobs.queue import URGENT, enqueue
from jobs.runtime import Runtime
from models import App, InboxStatus
from models.inbox import INVALID_ROUTING_KEY
from models.db import utcnow
from wecom import events
from wecom.crypto import CallbackCrypto, CallbackRejected
from wecom.replies import text_reply
from web.inbox_writer import Duplicate, Refused, writer_for

log = logging.getLogger(__name__)
bp = Blueprint("callback", __name__)

APP_CACHE_SECONDS = 30.0
MISS_CACHE_SECONDS = 2.0
"""How long a process answers an unknown slug 404 from the slug list it read, without a query. Short,
because an app added in another process (the CLI, another gunicorn worker) must answer WeCom's URL
check almost at once; an app added through this process's API clears the cache at once."""


@dataclass(frozen=True)
class CallbackApp:
    pk: int
    slug: str
    corp_id: str
    crypto: CallbackCrypto


class DatabaseDown(Exception):
    """The DB cannot be reached: answer 503 so WeCom retries later."""


class _AppCache:
    """Apps by slug for a few seconds, so a callback costs no app query and no key derivation; and the
    list of known slugs for MISS_CACHE_SECONDS, so a flood of unknown slugs costs one query per process
    per MISS_CACHE_SECONDS rather than one each.

    Each process has its own copy: a changed credential reaches every worker within APP_CACHE_SECONDS.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, CallbackApp]] = {}
        self._slugs: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._lock = threading.Lock()

    def get(self, runtime: Runtime, slug: str) -> CallbackApp | None:
        now = time.monotonic()
        hit = self._entries.get(slug)
        if hit and hit[0] > now:
            return hit[1]
        known_until, known = self._slugs
        if known_until > now and slug not in known:
            return None
        try:
            with runtime.Session() as s:
                app = s.scalar(select(App).where(App.slug == slug))
                entry = CallbackApp(app.id, app.slug, app.corp.corp_id,
                                    CallbackCrypto(app.token, app.aes_key, app.corp.corp_id)) if app else None
                slugs = None if app else frozenset(s.scalars(select(App.slug)))
        except OperationalError as exc:
            raise DatabaseDown() from exc
        with self._lock:
            if entry is not None:
                self._entries[slug] = (now + APP_CACHE_SECONDS, entry)
            else:
                self._slugs = (now + MISS_CACHE_SECONDS, slugs or frozenset())
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._slugs = (0.0, frozenset())


apps = _AppCache()


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


def _params(args: Mapping[str, str], *names: str) -> list[str]:
    values = [args.get(n, "") for n in names]
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise CallbackRejected(400, f"missing {', '.join(missing)}")
    return values


def _check_clock(runtime: Runtime, timestamp: str) -> None:
    try:
        sent = int(timestamp)
    except ValueError:
        raise CallbackRejected(400, "timestamp is not a number") from None
    skew = runtime.settings.max_clock_skew
    if skew and abs(time.time() - sent) > skew:
        raise CallbackRejected(403, "stale timestamp")


def _app(runtime: Runtime, slug: str) -> CallbackApp:
    app = apps.get(runtime, slug)
    if app is None:
        raise CallbackRejected(404, "unknown app")
    return app


def _reject(slug: str, exc: CallbackRejected) -> Response:
    log.warning("callback rejected app=%s status=%d reason=%s", slug, exc.status, exc.reason)
    return Response(exc.reason, status=exc.status, mimetype="text/plain")


@bp.get("/wecom/callback/<slug>")
def verify(slug: str) -> Response:
    runtime = _runtime()
    try:
        app = _app(runtime, slug)
        signature, timestamp, nonce, echostr = _params(request.args, "msg_signature", "timestamp", "nonce", "echostr")
        _check_clock(runtime, timestamp)
        return Response(app.crypto.verify_url(signature, timestamp, nonce, echostr), mimetype="text/plain")
    except CallbackRejected as exc:
        return _reject(slug, exc)
    except DatabaseDown:
        return Response("database unavailable", status=503, mimetype="text/plain")


@bp.post("/wecom/callback/<slug>")
def receive(slug: str) -> Response:
    """The POST through Flask: only while start-up is still pending (web/startup.py), since otherwise
    web/callback_wsgi.py answers it before Flask's dispatch."""
    return accept(_runtime(), slug, request.args, request.content_length, request.stream)


def accept(runtime: Runtime, slug: str, args: Mapping[str, str], content_length: int | None,
           stream: IO[bytes]) -> Response:
    """A POSTed callback: checked, stored, handed on; its answer. `args` is the query string, `stream`
    the body (werkzeug's, which ends a chunked body where gunicorn says it ends)."""
    started = time.monotonic()
    try:
        app = _app(runtime, slug)
        body = _body(runtime.settings.max_body_bytes, content_length, stream)
        signature, timestamp, nonce = _params(args, "msg_signature", "timestamp", "nonce")
        _check_clock(runtime, timestamp)
        plaintext = app.crypto.decrypt(body, signature, timestamp, nonce)
        event, invalid = _parse(slug, plaintext)
        inbox_id = _store(runtime, app, event, plaintext, invalid)
    except CallbackRejected as exc:
        return _reject(slug, exc)
    except DatabaseDown:
        log.error("callback app=%s not stored: database unavailable, answering 503 so WeCom retries", slug)
        return Response("database unavailable", status=503, mimetype="text/plain")
    except Refused as exc:
        log.error("callback app=%s not stored: the database refused the row (%s), answering 500 so WeCom "
                  "retries", slug, exc.reason)
        return Response("not stored", status=500, mimetype="text/plain")
    if event is None:  # stored as invalid (or a retry of one): nothing to process
        return Response(b"", status=200)
    if _is_command(slug, event):
        return _answer_command(runtime, app, event, plaintext, inbox_id, started, nonce, timestamp)
    if inbox_id is not None:
        _enqueue(runtime, inbox_id, event, app.corp_id)
    return Response(b"", status=200)


def _parse(slug: str, plaintext: str) -> tuple[events.Event | None, str | None]:
    """(the event, None), or (None, why) for a signed callback that is no usable event: it is stored as
    `invalid` all the same, since a refusal would only make WeCom retry it for days."""
    try:
        return events.parse(plaintext), None
    except events.InvalidEvent as exc:
        log.warning("callback app=%s is no valid event, stored as invalid: %s", slug, exc.reason)
        return None, exc.reason


def _is_command(slug: str, event: events.Event) -> bool:
    """The bot-command check runs after the row is committed: whatever it raises, the answer stays a 200
    and the row goes to the queue like any other."""
    try:
        return bot_jobs.is_command(event)
    except Exception:
        log.exception("bot command check failed app=%s; the row goes to the queue", slug)
        return False


def _answer_command(runtime: Runtime, app: CallbackApp, event: events.Event, plaintext: str,
                    inbox_id: int | None, started: float, nonce: str, timestamp: str) -> Response:
    """A bot command: run now and answer passively when it is quick (jobs/bot.py says why here); a retry
    gets the passive answer already given, if any, and never runs the command again. The row is stored
    before this, so whatever fails here the answer is still a 200 and the queue takes over."""
    try:
        if inbox_id is None:
            text = bot_jobs.retried_reply(app.corp_id, events.dedup_key(event, plaintext))
        else:
            text = bot_jobs.answer_passively(inbox_id, started)
    except Exception:
        log.exception("bot command app=%s not answered in the callback; left to the queue", app.slug)
        if inbox_id is not None:
            _enqueue(runtime, inbox_id)
        return Response(b"", status=200)
    if text is None:
        return Response(b"", status=200)
    reply = text_reply(event.from_user, app.corp_id, text, int(time.time()))
    return Response(app.crypto.encrypt_reply(reply, nonce, timestamp), status=200, mimetype="application/xml")


def _body(limit: int, content_length: int | None, stream: IO[bytes]) -> bytes:
    """The request body, refused past `limit` bytes. Read by hand because werkzeug's max_content_length
    silently truncates a chunked body (no Content-Length) instead of refusing it."""
    if (content_length or 0) > limit:
        raise CallbackRejected(413, "body too large")
    try:
        body = stream.read(limit + 1)
    except (ParseException, OSError) as exc:  # gunicorn's errors on a cut or garbled chunked body
        raise CallbackRejected(400, "unreadable body") from exc
    if len(body) > limit:
        raise CallbackRejected(413, "body too large")
    return body


def _store(runtime: Runtime, app: CallbackApp, event: events.Event | None, plaintext: str,
           invalid: str | None) -> int | None:
    """Insert the inbox row (`invalid`, with the reason, when there is no event); None when this callback
    is a retry of one already stored (its dedup key's unique violation: any other integrity error raises
    Refused, since answering it 200 would lose the callback)."""
    row = {
        "app_pk": app.pk,
        "corp_id": app.corp_id,
        "dedup_key": events.dedup_key(event, plaintext),
        "routing_key": event.routing_key[:96] if event else INVALID_ROUTING_KEY,
        "raw_xml": plaintext,
        "status": InboxStatus.invalid.value if event is None else InboxStatus.received.value,
        "error": invalid,
        "attempts": 0,
    }
    try:  # WeCom waits on this one-row insert: one autocommit statement (web/inbox_writer.py)
        return writer_for(runtime.first_write_engine).insert(row, utcnow())
    except Duplicate:
        return None
    except OperationalError as exc:
        raise DatabaseDown() from exc


BATCH_FLAG_TTL = 30
"""Seconds a batch flag lives: past it a new process_batch is enqueued even if the flagged one never ran."""


def _enqueue(runtime: Runtime, inbox_id: int, event: events.Event | None = None, corp_id: str = "") -> None:
    """Hand the row to the job queue. If Redis is down the row stays `received` for the sweeper; in
    inline mode a failing handler is dead-lettered inside `enqueue`. Either way WeCom gets its 200.

    An urgent event (a WelcomeCode that dies in 20 s, a customer writing to customer service) jumps the
    `events` backlog onto the `welcome` queue. Any other event's id goes onto its queue's inbox list
    (`push_inbox`: one round trip, an RQ job per burst, not per callback: RQ's job hash and registry
    bookkeeping were the largest cost of a callback). A batched kind (kf_msg_or_event) enqueues one
    process_batch for the corp while none is waiting; the flag expires after BATCH_FLAG_TTL, so a lost
    batch job delays rows at most that long (the sweeper also finds them). Without Redis (inline mode)
    the row is processed here, by process_event."""
    urgent = event is not None and event.urgent
    queue = URGENT if urgent else None
    try:
        redis = runtime.redis
        if event is not None and event.batched and redis is not None and corp_id:
            # Only the first of a burst enqueues; process_batch clears the flag before it takes rows.
            if redis.set(batch_flag(corp_id, event.routing_key), inbox_id, nx=True, ex=BATCH_FLAG_TTL):
                enqueue("process_batch", corp_id, event.routing_key, queue=queue, retry_as="events")
            return
        if event is not None and redis is not None:
            push_inbox(redis, [inbox_id], queue or "events")
            return
        enqueue("process_event", inbox_id, job_id=f"inbox-{inbox_id}", queue=queue, retry_as="events")
    except Exception:
        log.exception("inbox %d stored but not enqueued; the sweeper will pick it up", inbox_id)
