"""The public page a group channel code's QR opens: `GET /g/<code>` answers the QR image of the group the
code's strategy picks now (rules/group_codes.py), and counts the scan on the corp's day.

No token: whoever scans is a customer. The code is 32 random URL-safe characters, so codes cannot be
walked; an unknown or deleted one is a 404, and the route never redirects anywhere (no open redirect).
A code with no usable group answers 410 with a short message, and turns abnormal (its owner and creator
get the 活码失效通知 once, handlers/group_codes.py). The image is sent with `no-store`: the next scan may
get another group. A HEAD (link checkers, previews) only says whether the code exists: it is no scan."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import undefer

from handlers.group_codes import locked_code, scan
from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox
from models import GroupCode, GroupCodeEntry
from models.db import utcnow

bp = Blueprint("group_landing", __name__)

SLUG = re.compile(r"[A-Za-z0-9_-]{16,43}")


def _error(status: int, code: str, message: str) -> Any:
    response = jsonify({"error": {"code": code, "message": message}})
    response.headers["Cache-Control"] = "no-store"
    return response, status


@bp.get("/g/<slug>")
def landing(slug: str) -> Any:
    if not SLUG.fullmatch(slug):
        return _error(404, "not_found", "no such group code")
    runtime = current_app.extensions["scrm"]
    with runtime.Session() as s:  # an unknown code costs a read, never a write
        code_id = s.scalar(select(GroupCode.id).where(GroupCode.slug == slug, GroupCode.deleted_at.is_(None)))
    if code_id is None:
        return _error(404, "not_found", "no such group code")
    if request.method == "HEAD":  # a link checker or preview, not a scan: counts nothing, moves no turn
        return Response(status=200, headers={"Cache-Control": "no-store"})
    with runtime.WriteSession.begin() as s:
        code = locked_code(s, code_id)
        if code is None:  # deleted meanwhile
            return _error(404, "not_found", "no such group code")
        ctx = HandlerContext(session=s, corp_id=code.corp_id, app_pk=code.app_pk)
        entry = scan(ctx, code, utcnow())
        s.flush()
        rows = [(r.id, r.queue) for r in ctx.pending_outbox]
        image = s.scalar(select(GroupCodeEntry).options(undefer(GroupCodeEntry.image))
                         .where(GroupCodeEntry.id == entry.id)) if entry is not None else None
        body, kind = (image.image, image.image_type) if image is not None else (None, None)
    enqueue_outbox(rows)
    if body is None:
        return _error(410, "unavailable", "该群活码暂时无法入群：群已满员或二维码已过期")
    return Response(body, mimetype=kind, headers={"Cache-Control": "no-store"})
