"""Editing a welcome message (manual 3.3: 编辑欢迎语): a default or a member's welcome changes in place, checked
whole as a new one would be (text, attachments with the group QR code, the time-of-day window). A channel
code's own welcome is changed through the code (PATCH /channel-codes/<id>)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify

from models import Role, WelcomeMessage
from rules.welcome import welcome_errors
from web import errors
from web.api_contact import _check_materials, _runtime, _welcome_json
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.contact import WelcomeChange, WelcomeOut
from web.welcome_parts import attachment_count, group_qr_problems

bp = Blueprint("api_welcome", __name__, url_prefix="/api/v1")
errors.register(bp)

EDITABLE = ("text", "material_ids", "group_code_id", "group_qr_as", "userid", "start_minute", "end_minute")


@bp.patch("/welcome-messages/<id:welcome_id>")
@require(Role.admin)
@endpoint("Edit a default or per-member welcome (text, attachments, group QR code, time of day)",
          body=WelcomeChange, response=WelcomeOut)
def update_welcome(welcome_id: int, body: WelcomeChange) -> Any:
    given = body.model_dump(exclude_unset=True)
    if not given:
        raise ApiError(422, "invalid", "the welcome message has errors", {"body": "give at least one field"})
    with _runtime().WriteSession.begin() as s:
        row = s.get(WelcomeMessage, welcome_id)
        if row is None or row.deleted_at is not None or row.scope == "code" \
                or g.principal.corp_id not in (None, row.corp_id):
            raise ApiError(404, "not_found", f"no welcome message {welcome_id}")
        merged = {k: getattr(row, k) for k in EDITABLE} | given
        if merged["group_code_id"] == 0:
            merged["group_code_id"] = None
        problems = welcome_errors(merged["text"] or "", attachment_count(merged), row.scope)
        if row.scope == "staff" and not merged["userid"]:
            problems["userid"] = "required for a member's welcome"
        if row.scope == "default" and merged["userid"]:
            problems["userid"] = "a default welcome is everyone's"
        window = (merged["start_minute"], merged["end_minute"])
        if window != (None, None) and (window[0] == window[1] or None in window):
            problems["start_minute"] = "both start_minute and end_minute, different minutes since midnight (0-1439)"
        problems |= group_qr_problems(s, row.corp_id, merged["group_code_id"])
        if problems:
            raise ApiError(422, "invalid", "the welcome message has errors", problems)
        _check_materials(s, row.corp_id, merged["material_ids"] or [])
        for key in EDITABLE:
            setattr(row, key, merged[key])
        row.text, row.material_ids = row.text or "", list(row.material_ids or [])
        row.group_qr_as = row.group_qr_as or "image"
        audit(s, "welcome.update", f"welcome:{row.id}", **{k: v for k, v in given.items()})
        return jsonify(_welcome_json(row))
