"""The dashboard's sign-in: an admin API token typed once into /admin/login, or a member signed in through
WeCom (web/admin/oauth.py), becomes a signed, HttpOnly, SameSite=Strict session cookie (`scrm_admin`,
SECRET_KEY, itsdangerous as web/sidebar/session.py signs its own), carrying the token's SHA-256 (what
api_tokens stores; never the token) or the member's corp and userid, and a CSRF token for the page's one form
(sign out). The cookie stands for its caller on the admin API's **reads** only (GET, HEAD: web/auth.py
`session_principal`), so the page fetches the same JSON any API client gets; a write still needs the
Authorization header. The token's revocation or expiry, or the member leaving the directory, ends the session
at its next request; a member's roles are read on each request (web/access.py).

The cookie lives ADMIN_SESSION_SECONDS (the signature carries its time), is Secure unless
SCRM_SIDEBAR_SECURE_COOKIE=0 (local http), and its path is / so that it reaches /api/v1."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

COOKIE = "scrm_admin"
ADMIN_SESSION_SECONDS = 8 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class AdminSession:
    """A token's session (`token_hash`) or a WeCom member's (`corp_id`, `userid`)."""

    token_hash: str | None
    csrf: str
    corp_id: str = ""
    userid: str = ""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="scrm-admin-session")


def start(response: Response, token_hash: str) -> None:
    _start(response, {"t": token_hash})


def start_member(response: Response, corp_id: str, userid: str) -> None:
    _start(response, {"c": corp_id, "u": userid})


def _start(response: Response, who: dict[str, str]) -> None:
    value = _serializer().dumps({**who, "x": secrets.token_urlsafe(24)})
    response.set_cookie(COOKIE, str(value), max_age=ADMIN_SESSION_SECONDS, path="/", httponly=True,
                        samesite="Strict", secure=current_app.extensions["scrm"].settings.sidebar_secure_cookie)


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def current() -> AdminSession | None:
    """This request's session, if its cookie is there, unforged and younger than ADMIN_SESSION_SECONDS
    (whether its token is still good is the caller's check: web/auth.py)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=ADMIN_SESSION_SECONDS)
    except BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or not isinstance(data.get("x"), str):
        return None
    if isinstance(data.get("t"), str):
        return AdminSession(data["t"], data["x"])
    if isinstance(data.get("c"), str) and isinstance(data.get("u"), str):
        return AdminSession(None, data["x"], data["c"], data["u"])
    return None


def read_session() -> AdminSession | None:
    """The signed-in session for an admin API read (GET/HEAD) without an Authorization header."""
    return current() if request.method in SAFE_METHODS else None
