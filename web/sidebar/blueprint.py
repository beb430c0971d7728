"""The sidebar's blueprint, apart from its views so each view module can register on it."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from web import errors

bp = Blueprint("sidebar", __name__, url_prefix="/sidebar", template_folder="templates")
errors.register(bp)  # the JSON routes answer errors as the admin API does: {"error": {"code", "message"}}


@bp.after_request
def _private(response: Response) -> Response:
    """Sidebar answers hold a member's customers: never cached by a shared cache or the WebView's history,
    never framed by another site (clickjacking a tag change). Bundled assets set their own caching."""
    response.headers.setdefault("Cache-Control", "private, no-store")
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
