"""The pages' CSS and JS: one stylesheet and one script per page, so a phone makes three requests in all.

Each bundle is the package's static files joined once per process: a page's stylesheet is the weui pieces
it uses (vendored from the weui npm release, static/weui/, MIT, see its LICENSE.txt), then sidebar.css and
the page's own; its script is sidebar.js (session, CSRF and the `wx` bridge) then the page's own. No CDN:
every byte comes from this service. URLs carry the bundle's hash, so the browser may keep it a year.
Public, like any stylesheet: they hold no data (the no-session test lists them as such)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Response, abort, current_app, request

from web.sidebar.blueprint import bp

STATIC = Path(__file__).parent / "static"
WEUI = ["weui/base.min.css", "weui/weui-cell.min.css", "weui/weui-cell-form.min.css", "weui/weui-button.min.css"]
BUNDLES = {
    "entry.css": [*WEUI[:1], "sidebar.css"],
    "entry.js": ["sidebar.js", "entry.js"],
    "customer.css": [*WEUI, "sidebar.css", "customer.css"],
    "customer.js": ["sidebar.js", "customer.js"],
    "quick_replies.css": [*WEUI[:2], "sidebar.css", "library.css"],
    "quick_replies.js": ["sidebar.js", "library.js", "quick_replies.js"],
    "materials.css": [*WEUI[:2], "sidebar.css", "library.css"],
    "materials.js": ["sidebar.js", "library.js", "materials.js"],
    "group.css": [WEUI[0], WEUI[1], "sidebar.css", "customer.css", "group.css"],
}
TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}


@dataclass(frozen=True)
class Bundle:
    body: bytes
    version: str


_built: dict[str, Bundle] = {}


def bundle(name: str) -> Bundle:
    """The bundle `name` (KeyError for none such), joined on first use."""
    found = _built.get(name)
    if found is None:
        body = b"\n".join((STATIC / part).read_bytes() for part in BUNDLES[name])
        found = _built[name] = Bundle(body, hashlib.sha256(body).hexdigest()[:12])
    return found


def asset_url(name: str) -> str:
    return f"/sidebar/assets/{name}?v={bundle(name).version}"


@bp.app_template_global("sidebar_asset")
def _sidebar_asset(name: str) -> str:
    return asset_url(name)


@bp.context_processor
def _jssdk() -> dict[str, str]:
    """WeCom's JS-SDK script, which gives the page its `wx` bridge (none in tests: they stub the bridge)."""
    return {"config_jssdk": current_app.extensions["scrm"].settings.sidebar_jssdk_url}


@bp.get("/assets/<name>")
def asset(name: str) -> Response:
    if name not in BUNDLES:
        abort(404)
    found = bundle(name)
    response = Response(found.body, content_type=TYPES[name.rsplit(".", 1)[1]])
    response.headers["Cache-Control"] = ("public, max-age=31536000, immutable"
                                         if request.args.get("v") == found.version else "no-cache")
    return response
