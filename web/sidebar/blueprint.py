"""The sidebar's blueprint, apart from its views so each view module can register on it."""

from __future__ import annotations

from flask import Blueprint

from web import errors

bp = Blueprint("sidebar", __name__, url_prefix="/sidebar", template_folder="templates")
errors.register(bp)  # the JSON routes answer errors as the admin API does: {"error": {"code", "message"}}
