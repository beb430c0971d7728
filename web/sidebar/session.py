"""Who is looking at a sidebar page: the signed session cookie the OAuth callback sets (web/sidebar/oauth.py),
the CSRF token bound to it, and the two guards every sidebar view wears.

Cookies, signed with SECRET_KEY (itsdangerous, one salt each), HttpOnly, SameSite=Lax, Secure unless
SCRM_SIDEBAR_SECURE_COOKIE=0 (local http only):
- `scrm_sidebar` (path /sidebar): corp, userid, app and agent id, CSRF token. The signature carries its
  time: one older than SCRM_SIDEBAR_SESSION_SECONDS is refused here, whatever the browser kept.
- `scrm_sidebar_state` (path /sidebar/oauth, 10 minutes): the OAuth `state` this browser was sent off with.

CSRF is session-bound (a synchronizer token, not double-submit): a random token inside the signed session,
written into each page (`<meta name="csrf-token">`) and sent back by the page's JS in `X-CSRF-Token` on every
write. Another origin can neither read the page nor the HttpOnly cookie, so it cannot know the token; a
double-submit cookie would have to be readable by script and would not die with the session.

A signed-in member is `g.principal`, a member `Principal` (web/auth.py) with `via="sidebar"`: every scope
check of the admin API (web/api_customers.py `_scoped`/`_customer`) applies to them unchanged.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from werkzeug.wrappers import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from models import Role
from models.access import SYSTEM_OFF, system_on
from web.auth import Principal, active_member, check_body_size
from web.errors import ApiError

SESSION_COOKIE = "scrm_sidebar"
STATE_COOKIE = "scrm_sidebar_state"
STATE_SECONDS = 600  # sign-in must come back within 10 minutes (WeCom's code itself lives 5)
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_once_lock = threading.Lock()


@dataclass(frozen=True)
class SidebarSession:
    corp_id: str
    userid: str
    app_pk: int
    agent_id: int
    csrf: str


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"scrm-sidebar-{purpose}")


def settings() -> Any:
    return current_app.extensions["scrm"].settings


def public_url(path: str) -> str:
    """`path` on the service as browsers reach it: SCRM_PUBLIC_URL (behind a TLS proxy, where the request
    says http and the proxy's address), else this request's scheme and host."""
    base = settings().public_url or request.host_url.rstrip("/")
    return base + path


def sign(purpose: str, data: dict[str, Any]) -> str:
    return str(_serializer(purpose).dumps(data))


def unsign(purpose: str, raw: str | None, max_age: int) -> dict[str, Any] | None:
    """The signed value, or None when it is absent, forged or older than `max_age` seconds."""
    if not raw:
        return None
    try:
        data = _serializer(purpose).loads(raw, max_age=max_age)
    except BadSignature:  # SignatureExpired is one
        return None
    return data if isinstance(data, dict) else None


def set_cookie(response: Response, name: str, value: str, max_age: int, path: str) -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="Lax",
                        secure=settings().sidebar_secure_cookie)


def start_session(response: Response, corp_id: str, userid: str, app_pk: int, agent_id: int) -> None:
    value = sign("session", {"c": corp_id, "u": userid, "a": app_pk, "g": agent_id, "x": secrets.token_urlsafe(24)})
    set_cookie(response, SESSION_COOKIE, value, settings().sidebar_session_seconds, "/sidebar")


def first_use(key: str, ttl: int) -> bool:
    """True the first time `key` is seen within `ttl` seconds, across processes with Redis (SET NX), per
    process without (the embedded default runs one process)."""
    runtime = current_app.extensions["scrm"]
    if runtime.redis is not None:
        return bool(runtime.redis.set(f"scrm:sidebar:once:{key}", 1, nx=True, ex=ttl))
    now = time.monotonic()
    with _once_lock:
        seen: dict[str, float] = runtime.local.setdefault("sidebar_once", {})
        for old in [k for k, until in seen.items() if until < now]:
            del seen[old]
        if key in seen:
            return False
        seen[key] = now + ttl
        return True


def current() -> SidebarSession | None:
    """This request's signed-in member, if the session cookie is valid and they are still an active member
    of the corp's directory (a member who left loses the sidebar at once, as a revoked token would)."""
    data = unsign("session", request.cookies.get(SESSION_COOKIE), settings().sidebar_session_seconds)
    if data is None:
        return None
    try:
        found = SidebarSession(str(data["c"]), str(data["u"]), int(data["a"]), int(data["g"]), str(data["x"]))
    except (KeyError, TypeError, ValueError):
        return None
    return found if active_member(found.corp_id, found.userid) else None


def _enter(found: SidebarSession) -> None:
    """Make the signed-in member the request's principal; a member whose system is off (系统状态) is refused
    with a 403 that says so."""
    with current_app.extensions["scrm"].Session() as s:
        if not system_on(s, found.corp_id, found.userid):
            raise ApiError(403, "system_off", SYSTEM_OFF)
    g.sidebar = found
    g.principal = Principal(found.userid, Role.member.value, found.userid, found.corp_id, via="sidebar")


def page(view: Callable[..., Any]) -> Callable[..., Any]:
    """An HTML page: without a session the browser is sent to sign in and comes back here."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        found = current()
        if found is None:
            from web.sidebar.oauth import sign_in_redirect

            return sign_in_redirect()
        _enter(found)
        return view(*args, **kwargs)

    guarded.sidebar_guard = "page"  # type: ignore[attr-defined]
    return guarded


def api(view: Callable[..., Any]) -> Callable[..., Any]:
    """A JSON route of the pages: 401 without a session, 403 for a write without the session's CSRF token."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_body_size()
        found = current()
        if found is None:
            raise ApiError(401, "unauthorized", "sign in again: open the sidebar from WeCom")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode(), found.csrf.encode()):
            raise ApiError(403, "csrf", f"a write needs the page's {CSRF_HEADER} header")
        _enter(found)
        return view(*args, **kwargs)

    guarded.sidebar_guard = "api"  # type: ignore[attr-defined]
    return guarded
