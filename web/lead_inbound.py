"""The web sites' inbound lead webhook (002 §3.7-3.8): `POST /api/v1/inbound/leads`, authenticated by a
per-source HMAC instead of a token.

What is signed, exactly: the bytes `X-Timestamp` + "." + the raw request body, HMAC-SHA256 with the
source's secret (UTF-8), sent as lowercase hex in `X-Signature`. `X-Timestamp` is Unix seconds; it is
refused when more than 5 minutes old or more than 5 minutes ahead. `X-Lead-Source` names the source (its
id). Any of these wrong: 401, and nothing is stored (not even the idempotency key).

`Idempotency-Key` (optional, ≤128 characters): the first answer to a key (its status and body, success or
error) is kept per source; a repeat within the source gets that answer again and creates nothing. Two
concurrent firsts: the unique (source, key) row lets one win; the other answers what the winner kept.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import InboundRequest, LeadSource
from web.auth import check_body_size
from web.errors import ApiError, error_body
from web.sales_scope import runtime

MAX_SKEW = 300  # seconds either way
MAX_BODY = 64 * 1024
MAX_KEY = 128


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 a caller sends (see the module's docstring)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _refused(why: str) -> ApiError:
    return ApiError(401, "unauthorized", why)


def _source() -> LeadSource:
    """The source whose secret signed this request, else 401."""
    raw_source, stamp, sent = (request.headers.get(h, "") for h in ("X-Lead-Source", "X-Timestamp", "X-Signature"))
    if not (raw_source.isdigit() and stamp.isdigit() and sent):
        raise _refused("X-Lead-Source, X-Timestamp and X-Signature are required")
    if abs(time.time() - int(stamp)) > MAX_SKEW:
        raise _refused("X-Timestamp is more than 5 minutes off")
    with runtime().Session() as s:
        source = s.get(LeadSource, int(raw_source)) if len(raw_source) < 19 else None
    expected = signature(source.secret, stamp, request.get_data(cache=True)) if source else ""
    if source is None or source.disabled_at is not None or not hmac.compare_digest(expected, sent.lower()):
        raise _refused("bad signature")
    return source


def _kept(source_id: int, key: str) -> Response | None:
    with runtime().Session() as s:
        row = s.scalar(select(InboundRequest).where(InboundRequest.source_id == source_id, InboundRequest.key == key))
    if row is None:
        return None
    return Response(row.body, status=row.status, mimetype="application/json")


def _keep(source_id: int, key: str, status: int, body: str) -> Response:
    """Keep the first answer to `key`; if another request kept one meanwhile, answer that one."""
    try:
        with runtime().WriteSession.begin() as s:
            s.add(InboundRequest(source_id=source_id, key=key, status=status, body=body))
    except IntegrityError:
        kept = _kept(source_id, key)
        if kept is not None:
            return kept
    return Response(body, status=status, mimetype="application/json")


def remember(s: Session, answer: dict[str, Any], status: int) -> None:
    """Keep the view's answer to this request's Idempotency-Key, if it has one, in the view's transaction:
    the lead and the kept answer commit together, or neither does (a concurrent first with the same key)."""
    if g.idempotency_key:
        s.add(InboundRequest(source_id=g.source.id, key=g.idempotency_key, status=status,
                             body=jsonify(answer).get_data(as_text=True)))


def signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Guard the inbound view (outside its `@endpoint`, so a bad signature is a 401 before the body is
    looked at): the source in `g.source`, the idempotency key's first answer replayed, an error answer kept
    (a success is kept by the view: `remember`)."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_body_size(MAX_BODY)
        source = _source()
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > MAX_KEY:
            raise ApiError(400, "bad_request", f"Idempotency-Key: at most {MAX_KEY} characters")
        g.source, g.idempotency_key = source, key
        if key:
            kept = _kept(source.id, key)
            if kept is not None:
                return kept
        try:
            return view(*args, **kwargs)
        except IntegrityError:  # a concurrent first with this key committed its lead and answer: that answer
            kept = _kept(source.id, key) if key else None
            if kept is None:
                raise
            return kept
        except ApiError as exc:
            body, status = json.dumps(error_body(exc.code, exc.message, exc.fields)), exc.status
        return _keep(source.id, key, status, body) if key else Response(body, status=status,
                                                                         mimetype="application/json")

    return guarded

