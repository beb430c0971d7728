"""Group welcome templates (客户群欢迎语, 004 §3.3.2) over the admin API: kept in our DB and mirrored to WeCom's
library (group_welcome_template/add, edit, del; jobs/group_welcome.py). WeCom's limits (3000 bytes of text,
a link's title and description, a mini-program's title, 100 templates a corp) are checked before any call,
with a 422 naming the field. notify=true: WeCom tells the group owners to apply the template to their groups."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox
from jobs.welcome import attachable, attachment
from models import GroupWelcomeTemplate, Material, Role
from models.db import utcnow
from rules.group_codes import MAX_TEMPLATES, template_problems
from web import errors
from web.api import _live
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import actor, runtime
from web.schemas.common import Deleted, Items
from web.schemas.group_codes import TemplateChange, TemplateIn, TemplateOut
from web.scope import corp_and_app, live_rows

bp = Blueprint("api_group_welcome", __name__, url_prefix="/api/v1")
errors.register(bp)


def _json(row: GroupWelcomeTemplate) -> dict[str, Any]:
    return {"id": row.id, "corp_id": row.corp_id, "text": row.text, "material_id": row.material_id,
            "notify": row.notify, "template_id": row.template_id, "created_by": row.created_by,
            "created_at": row.created_at.isoformat()}


def _checked(s: Session, corp_id: str, text: str, material_id: int | None) -> None:
    """422 naming the field unless WeCom would take `text` with the library item `material_id`."""
    material = None
    if material_id is not None:
        material = s.scalar(select(Material).where(Material.id == material_id, Material.corp_id == corp_id,
                                                   Material.deleted_at.is_(None), attachable()))
        if material is None:
            raise ApiError(422, "invalid", f"material_id: no image, link or mini-program {material_id} in this corp",
                           {"material_id": "an image, link or mini-program of the corp's library"})
    part = attachment(material) if material is not None else None
    problems = template_problems(text, {part["msgtype"]: part[part["msgtype"]]} if part else None)
    if problems:
        raise ApiError(422, "invalid", "; ".join(f"{k}: {v}" for k, v in problems.items()), problems)


def _queue(s: Session, row: GroupWelcomeTemplate, job: str) -> list[tuple[int, str]]:
    ctx = HandlerContext(session=s, corp_id=row.corp_id, app_pk=row.app_pk)
    ctx.outbox(job, {"app_pk": row.app_pk, "template_pk": row.id}, key=f"{job}:{row.id}:{uuid.uuid4().hex}")
    return [(r.id, r.queue) for r in ctx.pending_outbox]


def _answer(pk: int, status: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_json(s.get_one(GroupWelcomeTemplate, pk))), status


@bp.get("/group-welcome-templates")
@require(Role.admin)
@endpoint("Group welcome templates (客户群欢迎语), oldest first (WeCom keeps at most 100 a corp)",
          response=Items[TemplateOut])
def list_templates() -> Any:
    with runtime().Session() as s:
        items = [_json(row) for row in s.scalars(live_rows(GroupWelcomeTemplate))]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/group-welcome-templates")
@require(Role.admin)
@endpoint("Create a group welcome template (202: group_welcome_template/add; notify tells the group owners)",
          body=TemplateIn, response=TemplateOut, status=202)
def create_template(body: TemplateIn) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        _checked(s, corp_id, body.text, body.material_id)
        live = s.scalar(select(func.count()).select_from(GroupWelcomeTemplate).where(
            GroupWelcomeTemplate.corp_id == corp_id, GroupWelcomeTemplate.deleted_at.is_(None)))
        if live >= MAX_TEMPLATES:
            raise ApiError(409, "conflict", f"the corp has {MAX_TEMPLATES} group welcome templates, WeCom's limit: "
                                            "delete one first")
        row = GroupWelcomeTemplate(corp_id=corp_id, app_pk=app_pk, text=body.text, material_id=body.material_id,
                                   notify=body.notify, created_by=actor())
        s.add(row)
        s.flush()
        rows = _queue(s, row, "add_group_welcome_template")
        audit(s, "group_welcome.create", f"group_welcome:{row.id}", notify=body.notify)
        pk = row.id
    enqueue_outbox(rows)
    return _answer(pk, 202)


@bp.get("/group-welcome-templates/<id:group_welcome_id>")
@require(Role.admin)
@endpoint("One group welcome template", response=TemplateOut)
def get_template(group_welcome_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_json(_live(s, GroupWelcomeTemplate, group_welcome_id, "group welcome template")))


@bp.patch("/group-welcome-templates/<id:group_welcome_id>")
@require(Role.admin)
@endpoint("Change a template's text or material (202: group_welcome_template/edit)", body=TemplateChange,
          response=TemplateOut, status=202)
def edit_template(group_welcome_id: int, body: TemplateChange) -> Any:
    given = body.model_dump(exclude_unset=True)
    with runtime().WriteSession.begin() as s:
        row = _live(s, GroupWelcomeTemplate, group_welcome_id, "group welcome template")
        text = given["text"] if given.get("text") is not None else row.text
        material_id = given["material_id"] if "material_id" in given else row.material_id
        _checked(s, row.corp_id, text, material_id)
        row.text, row.material_id = text, material_id
        rows = _queue(s, row, "edit_group_welcome_template")
        audit(s, "group_welcome.update", f"group_welcome:{row.id}", fields=sorted(given))
    enqueue_outbox(rows)
    return _answer(group_welcome_id, 202)


@bp.delete("/group-welcome-templates/<id:group_welcome_id>")
@require(Role.admin)
@endpoint("Delete a template here and in WeCom (202: group_welcome_template/del)", response=Deleted, status=202)
def delete_template(group_welcome_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _live(s, GroupWelcomeTemplate, group_welcome_id, "group welcome template")
        row.deleted_at = utcnow()
        rows = _queue(s, row, "del_group_welcome_template")
        audit(s, "group_welcome.delete", f"group_welcome:{row.id}")
    enqueue_outbox(rows)
    return jsonify({"id": group_welcome_id, "deleted": True}), 202
