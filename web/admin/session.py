"""The dashboard's sign-in: an admin API token typed once into /admin/login becomes a signed, HttpOnly,
SameSite=Strict session cookie (`scrm_admin`, SECRET_KEY, itsdangerous as web/sidebar/session.py signs its
own), carrying the token's SHA-256 (what api_tokens stores; never the token) and a CSRF token for the
page's one form (sign out). The cookie stands for the token on the admin API's **reads** only (GET, HEAD:
web/auth.py), so the page fetches the same JSON any API client gets; a write still needs the Authorization
header, and the token's revocation or expiry ends the session at its next request.

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
    token_hash: str
    csrf: str


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="scrm-admin-session")


def start(response: Response, token_hash: str) -> None:
    value = _serializer().dumps({"t": token_hash, "x": secrets.token_urlsafe(24)})
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
    if not isinstance(data, dict) or not isinstance(data.get("t"), str) or not isinstance(data.get("x"), str):
        return None
    return AdminSession(data["t"], data["x"])


def read_token_hash() -> str | None:
    """The signed-in token's hash for an admin API read (GET/HEAD) without an Authorization header."""
    if request.method not in SAFE_METHODS:
        return None
    found = current()
    return found.token_hash if found else None
