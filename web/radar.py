"""The radar's public door (雷达, 004 §6.3): `GET /r/<code>` records an open of a tracked link and sends the
reader on (302) to the material's URL; `GET /r/beacon.js` and `POST /r/<code>/beacon` let the landing page
report dwell ≥15 s and scroll-to-bottom.

No token: whoever opens is a customer (or whoever they forwarded it to). The code is 24 random URL-safe
characters (144 bits): links cannot be walked, and an unknown or malformed code is a 404 page that goes
nowhere; the only redirect target is the URL stored on the link's material (http or https), so `/r/` is no
open redirect. A HEAD (a link checker) and a preview fetcher (a crawler's user agent) are sent on without
an open being recorded.

Readers: a long-lived random cookie (`scrm_reader`, path /r, two years) tells one reader's opens from
another's. Beacons: the open sets `scrm_radar` (path /r, one hour), its id and code signed with SECRET_KEY.
The landing page includes `<script src="https://<this service>/r/beacon.js" async></script>`: the script is
rendered for that cookie (no cookie, no script), and posts `{"dwell": seconds}` at 15 s and on leaving, and
`{"bottom": true}` when the reader reaches the end. Only pages that include the script report: a third
party's page (most material links) cannot be made to, and for a page on another site the browser must send
our cookie cross-site (SameSite=None, Secure: with Secure cookies on; browsers that block third-party
cookies send no beacons). Beacons are bounded: 20 per open, dwell capped at an hour, 256-byte bodies."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from flask import Blueprint, Response, current_app, g, redirect, render_template_string, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from handlers.registry import HandlerContext
from handlers.smart_tags import on_context
from jobs.queue import enqueue_outbox
from jobs.radar import record_open
from models import Material, Role
from models.radar import RadarLink, RadarOpen, RadarTagged, RadarTagRule
from web.auth import Principal
from web.errors import ApiError

bp = Blueprint("radar", __name__)

CODE = re.compile(r"[A-Za-z0-9_-]{24}")
READER = re.compile(r"[A-Za-z0-9_-]{22}")
READER_COOKIE, BEACON_COOKIE = "scrm_reader", "scrm_radar"
READER_SECONDS, BEACON_SECONDS = 2 * 365 * 86400, 3600
MAX_BEACONS, MAX_DWELL, MIN_DWELL, MAX_BEACON_BYTES = 20, 3600, 15, 256
BOTS = ("bot", "spider", "crawl", "preview", "curl", "wget", "python-requests", "headless")

NOT_FOUND = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>链接不存在</title>
<p style="font:16px sans-serif;text-align:center;padding:64px 24px;color:#555">链接不存在或已失效</p></html>"""

BEACON_JS = """/* radar beacon: dwell >= 15 s and scroll-to-bottom for {{ url }} */
(function () {
  'use strict';
  var url = {{ url|tojson }}, start = Date.now(), bottom = false, sent = 0;
  function post(body) {
    if (sent++ > 18) { return; }
    var data = JSON.stringify(body);
    if (navigator.sendBeacon) { navigator.sendBeacon(url, new Blob([data], {type: 'text/plain'})); return; }
    fetch(url, {method: 'POST', body: data, credentials: 'include', mode: 'no-cors', keepalive: true});
  }
  function dwell() { var s = Math.round((Date.now() - start) / 1000); if (s >= 15) { post({dwell: s}); } }
  setTimeout(dwell, 15000);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') { dwell(); }
  });
  window.addEventListener('scroll', function () {
    var el = document.documentElement;
    if (!bottom && window.innerHeight + window.scrollY >= el.scrollHeight - 4) { bottom = true; post({bottom: true}); }
  }, {passive: true});
})();
"""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="scrm-radar-beacon")


def _secure() -> bool:
    return bool(current_app.extensions["scrm"].settings.sidebar_secure_cookie)


def agent_class(user_agent: str) -> str:
    """wxwork (WeCom's WebView), wechat, bot (crawlers, link previews), mobile or desktop."""
    ua = user_agent.lower()
    if "wxwork" in ua:
        return "wxwork"
    if "micromessenger" in ua:
        return "wechat"
    if not ua or any(b in ua for b in BOTS):
        return "bot"
    return "mobile" if any(m in ua for m in ("mobile", "android", "iphone")) else "desktop"


def _not_found() -> Response:
    return Response(NOT_FOUND, status=404, mimetype="text/html", headers={"Cache-Control": "no-store"})


def _target(material: Material | None) -> str | None:
    """The material's URL when it is a live http(s) link, else None (nothing to send a reader to)."""
    if material is None or material.deleted_at is not None or material.kind != "link":
        return None
    url = str(material.payload.get("url") or "")
    return url if re.match(r"https?://[^\s/]+", url) else None


def _auto_tag(link: RadarLink) -> None:
    """The material's auto-tag, once per customer: added to the follower's relation by mark_customer_tags
    (mark_tag through the outbox), as the follower. A follower no longer following tags nothing."""
    from web.api_tags import mark_customer_tags
    from web.schemas.tags import Tagging

    runtime = current_app.extensions["scrm"]
    with runtime.WriteSession.begin() as s:
        tag_pk = s.scalar(select(RadarTagRule.tag_pk).where(RadarTagRule.material_id == link.material_id))
        if tag_pk is None or s.scalar(select(RadarTagged.id).where(RadarTagged.material_id == link.material_id,
                                                                   RadarTagged.customer_id == link.customer_id)):
            return
        s.add(RadarTagged(material_id=link.material_id, customer_id=link.customer_id))
    g.principal = Principal(link.userid, Role.member.value, link.userid, link.corp_id, via="radar")
    try:
        mark_customer_tags(link.customer_id, Tagging(userid=None, add=[tag_pk], remove=[]))
    except ApiError:  # the follower left the customer, or the tag was deleted: nothing to tag
        pass


@bp.get("/r/<code>", merge_slashes=False)  # "/r//evil.example.com" is a 404, not a 308
def open_link(code: str) -> Any:
    if not CODE.fullmatch(code):
        return _not_found()
    runtime = current_app.extensions["scrm"]
    with runtime.Session() as s:  # an unknown code costs a read, never a write
        found = s.execute(select(RadarLink, Material).join(Material, Material.id == RadarLink.material_id)
                          .where(RadarLink.code == code)).first()
    url = _target(found[1]) if found else None
    if url is None:
        return _not_found()
    link = found[0]
    agent = agent_class(request.headers.get("User-Agent", ""))
    response = redirect(url, 302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the code stays ours
    if request.method == "HEAD" or agent == "bot":
        return response
    reader = request.cookies.get(READER_COOKIE, "")
    if not READER.fullmatch(reader):
        reader = secrets.token_urlsafe(16)
    with runtime.WriteSession.begin() as s:
        ctx = HandlerContext(session=s, corp_id=link.corp_id, app_pk=0)
        opened = record_open(ctx, s.merge(link), reader, agent)
        on_context(ctx, "radar", [link.customer_id])
        s.flush()
        open_id, rows = opened.id, [(r.id, r.queue) for r in ctx.pending_outbox]
    enqueue_outbox(rows)
    _auto_tag(link)
    same_site = "None" if _secure() else "Lax"
    response.set_cookie(READER_COOKIE, reader, max_age=READER_SECONDS, path="/r", httponly=True, samesite=same_site,
                        secure=_secure())
    response.set_cookie(BEACON_COOKIE, _serializer().dumps({"o": open_id, "c": code}), max_age=BEACON_SECONDS,
                        path="/r", httponly=True, samesite=same_site, secure=_secure())
    return response


def _beacon_open() -> dict[str, Any] | None:
    try:
        data = _serializer().loads(request.cookies.get(BEACON_COOKIE, ""), max_age=BEACON_SECONDS)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and CODE.fullmatch(str(data.get("c", ""))) else None


@bp.get("/r/beacon.js")
def beacon_js() -> Any:
    """The beacon script for this browser's last open (an empty script without one)."""
    bound = _beacon_open()
    body = render_template_string(BEACON_JS, url=f"/r/{bound['c']}/beacon") if bound else "/* no radar open */\n"
    return Response(body, mimetype="text/javascript", headers={"Cache-Control": "private, no-store"})


def _beacon_error(status: int, text: str) -> Response:
    return Response(json.dumps({"error": {"code": "beacon", "message": text}}), status=status,
                    mimetype="application/json", headers={"Cache-Control": "no-store"})


@bp.post("/r/<code>/beacon", merge_slashes=False)
def beacon(code: str) -> Any:
    """Dwell (`{"dwell": seconds}`, kept when ≥15 s, the longest wins) or `{"bottom": true}` for the open
    the signed cookie names, which must be an open of this code. 204; 400 bad body, 403 no such open here,
    429 past the open's beacons."""
    if not CODE.fullmatch(code):
        return _not_found()
    if (request.content_length or 0) > MAX_BEACON_BYTES:
        return _beacon_error(413, "beacon body too large")
    bound = _beacon_open()
    if bound is None or bound["c"] != code:
        return _beacon_error(403, "no open of this link in this browser")
    try:
        body = json.loads(request.get_data(cache=False)[:MAX_BEACON_BYTES] or b"null")
    except ValueError:
        body = None
    dwell = body.get("dwell") if isinstance(body, dict) else None
    bottom = body.get("bottom") if isinstance(body, dict) else None
    if not ((type(dwell) is int and 0 <= dwell <= 10**6) or bottom is True):
        return _beacon_error(400, 'body: {"dwell": seconds} or {"bottom": true}')
    with current_app.extensions["scrm"].WriteSession.begin() as s:
        row = s.scalar(select(RadarOpen).where(RadarOpen.id == int(bound["o"])).with_for_update())
        if row is None:
            return _beacon_error(403, "no open of this link in this browser")
        if row.beacons >= MAX_BEACONS:
            return _beacon_error(429, "this open has sent all its beacons")
        row.beacons += 1
        if type(dwell) is int and dwell >= MIN_DWELL:
            row.dwell_seconds = max(row.dwell_seconds, min(dwell, MAX_DWELL))
        if bottom is True:
            row.reached_bottom = True
    return Response(status=204, headers={"Cache-Control": "no-store"})
