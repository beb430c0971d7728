"""The dashboard's pages: sign in with an API token (through WeCom: web/admin/oauth.py), the dashboard, sign
out; and the package's static files (the page's script and stylesheet, the vendored Chart.js). The pages hold
no figures: the script fetches them from the admin API with the session cookie (web/admin/session.py)."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, redirect, render_template, request
from werkzeug.wrappers import Response

from web.admin import session
from web.auth import Principal, hash_token, principal_for, session_principal
from web.errors import ApiError

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")
MAX_TOKEN_CHARS = 200


@bp.after_request
def _private(response: Response) -> Response:
    """Pages of one signed-in admin: never cached by a shared cache, never framed, scripts from here only."""
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                                   "img-src 'self' data:; frame-ancestors 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _signed_in() -> tuple[session.AdminSession, Principal] | None:
    found = session.current()
    if found is None:
        return None
    try:
        return found, session_principal(found)
    except ApiError:  # revoked, expired or deleted since: signed out
        return None


@bp.get("/login")
def login_form() -> Any:
    return render_template("admin/login.html", error=None)


@bp.post("/login")
def login() -> Any:
    """Sign in with an API token (any role: a member sees their own figures); 401 and the form again when the
    token is unknown, revoked or expired. The token is neither logged nor kept: the cookie holds its hash."""
    token = (request.form.get("token") or "").strip()
    if not token or len(token) > MAX_TOKEN_CHARS:
        return render_template("admin/login.html", error="请输入 API 令牌"), 400
    token_hash = hash_token(token)
    try:
        principal_for(token_hash)
    except ApiError as exc:
        return render_template("admin/login.html", error=f"无法登录：{exc.message}"), exc.status
    response = redirect("/admin/", code=303)
    session.start(response, token_hash)
    return response


@bp.post("/logout")
def logout() -> Any:
    found = session.current()
    if found is None or not hmac.compare_digest((request.form.get("csrf") or "").encode(), found.csrf.encode()):
        return render_template("admin/login.html", error="请重新登录"), 403
    response = redirect("/admin/login", code=303)
    session.end(response)
    return response


@bp.get("/")
def dashboard() -> Any:
    signed_in = _signed_in()
    if signed_in is None:
        return redirect("/admin/login", code=303)
    found, principal = signed_in
    return render_template("admin/dashboard.html", principal=principal, csrf=found.csrf)
