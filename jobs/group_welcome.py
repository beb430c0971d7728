"""Group welcome templates (入群欢迎语素材) in WeCom: group_welcome_template/add, edit and del.

Each effect sends the template as it is in the DB when the job runs (text and its library item in
send_welcome_msg's shape, `jobs.welcome.attachment`), so retries and queued edits never send an older
version; a template deleted before add answered is never made."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jobs.outbound import EffectContext, effect
from jobs.welcome import attachment
from models import GroupWelcomeTemplate, Material


def template_body(s: Session, row: GroupWelcomeTemplate) -> dict[str, Any]:
    """The template's content fields: text.content and one of image, link, miniprogram (doc 92366)."""
    body: dict[str, Any] = {}
    if row.text:
        body["text"] = {"content": row.text}
    material = s.get(Material, row.material_id) if row.material_id is not None else None
    if material is not None:
        part = attachment(material)
        body[part["msgtype"]] = part[part["msgtype"]]
    return body


def _load(ctx: EffectContext, pk: int) -> tuple[GroupWelcomeTemplate, dict[str, Any]]:
    with ctx.runtime.Session() as s:
        row = s.get_one(GroupWelcomeTemplate, pk)
        body = template_body(s, row)
        s.expunge(row)
    return row, body


@effect("add_group_welcome_template")
def add_group_welcome_template(ctx: EffectContext, template_pk: int) -> dict[str, Any] | None:
    row, body = _load(ctx, template_pk)
    if row.deleted_at is not None or row.template_id:
        return ctx.finish(lambda s: {"template_id": row.template_id})
    answer = ctx.client.post("externalcontact/group_welcome_template/add", data={**body, "notify": int(row.notify)})

    def write(s: Session) -> dict[str, Any]:
        s.get_one(GroupWelcomeTemplate, template_pk).template_id = answer["template_id"]
        return {"template_id": answer["template_id"]}

    return ctx.finish(write)


@effect("edit_group_welcome_template")
def edit_group_welcome_template(ctx: EffectContext, template_pk: int) -> dict[str, Any] | None:
    row, body = _load(ctx, template_pk)
    if row.deleted_at is not None or not row.template_id:  # gone, or add still to run (it sends the newest)
        return ctx.finish(lambda s: {"edited": None})
    ctx.client.post("externalcontact/group_welcome_template/edit", data={"template_id": row.template_id, **body})
    return ctx.finish(lambda s: {"edited": row.template_id})


@effect("del_group_welcome_template")
def del_group_welcome_template(ctx: EffectContext, template_pk: int) -> dict[str, Any] | None:
    row, _ = _load(ctx, template_pk)
    if row.template_id:
        ctx.client.post("externalcontact/group_welcome_template/del", data={"template_id": row.template_id})
    return ctx.finish(lambda s: {"deleted": row.template_id})
