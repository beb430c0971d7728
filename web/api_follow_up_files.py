"""A follow-up record's attachment and reminders over the admin API (004 §4.1.3 B, C).

A file is uploaded first (`POST /follow-ups/attachments`, multipart/form-data, field `file`, ≤ 20 MB, no
programs: rules/attachments.py) and the record then names it (`attachment_id`), which keeps creating a
record one JSON body like every other write; a library material (`material_id`) is the other kind of
attachment. Checks come before anything is stored: an over-size file is a 413, a program a 422, and the
store is not touched. The file is downloaded through `GET /follow-ups/<id>/attachment` by those who may
see the record (anyone else gets the record's 404); the stores hand out no URLs of their own.

Reminders: `mention` (@colleagues of the corp, a 422 naming an unknown one) and `remind_at`, written by
models.follow_up_links.Extras in the record's transaction and sent after its commit."""

from __future__ import annotations

from typing import IO, Any

from flask import Blueprint, jsonify, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from models import FollowUp, FollowUpAttachment, FollowUpReminder, Material, Plan, Role
from models.corp import messaging_app
from models.db import utcnow
from models.follow_up_links import Extras, unknown_staff
from models.followup import Subject
from rules.attachments import HEAD_BYTES, MAX_BYTES, clean_name, refusal
from storage import Missing, storage
from web import errors
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.org_scope import follow_up_rows, visible
from web.sales_scope import actor, runtime
from web.schemas.common import CorpQuery
from web.schemas.sales import AttachmentOut, FollowUpBody
from web.scope import corp_and_app

bp = Blueprint("api_follow_up_files", __name__, url_prefix="/api/v1")
errors.register(bp)

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers around the file


def _size(stream: IO[bytes]) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def _checked(upload: FileStorage) -> tuple[str, str, int]:
    """(name, content type, size) of an upload that may be stored: 413 past MAX_BYTES, 422 when it is
    empty or a program."""
    size = _size(upload.stream)
    if size > MAX_BYTES:
        raise ApiError(413, "too_large", f"file: {size} bytes is over the {MAX_BYTES}-byte (20 MB) limit")
    name = clean_name(upload.filename or "")
    content_type = (upload.mimetype or "application/octet-stream")[:128]
    if size == 0:
        raise ApiError(422, "invalid", "file: the file is empty", {"file": "empty"})
    why = refusal(name, content_type, upload.stream.read(HEAD_BYTES))
    upload.stream.seek(0)
    if why:
        raise ApiError(422, "invalid", f"file: {why}", {"file": why})
    return name, content_type, size


def attachment_json(a: FollowUpAttachment) -> dict[str, Any]:
    download = (url_for("api_follow_up_files.download", follow_up_id=a.follow_up_id)
                if a.storage_key and a.follow_up_id else None)
    return {"id": a.id, "corp_id": a.corp_id, "follow_up_id": a.follow_up_id, "material_id": a.material_id,
            "filename": a.filename, "content_type": a.content_type, "size": a.size, "download": download}


@bp.post("/follow-ups/attachments")
@require(Role.member, max_body=MAX_BYTES + FORM_OVERHEAD)
@endpoint("Upload a file (≤ 20 MB, no programs) for a follow-up record to attach (attachment_id)",
          query=CorpQuery, upload="file", response=AttachmentOut, status=201)
def upload_attachment(query: CorpQuery, upload: FileStorage) -> Any:
    """Multipart/form-data with the file in field `file`. 413 over 20 MB, 422 for an empty file or a program
    (by name, declared type or first bytes); nothing is stored then. The upload is the caller's until a
    record they write names it."""
    name, content_type, size = _checked(upload)
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
    store = storage(runtime())
    key = store.put(upload.stream, content_type)
    try:
        with runtime().WriteSession.begin() as s:
            row = FollowUpAttachment(corp_id=corp_id, storage_key=key, filename=name, content_type=content_type,
                                     size=size, uploaded_by=actor())
            s.add(row)
            s.flush()
            audit(s, "follow_up.attachment_upload", f"follow_up_attachment:{row.id}", filename=name, size=size)
            return jsonify(attachment_json(row)), 201
    except Exception:
        store.delete(key)  # the row never made it: leave no file without one
        raise


@bp.get("/follow-ups/<id:follow_up_id>/attachment")
@require(Role.member)
@endpoint("Download a follow-up record's file (404 unless the caller may see the record)", response=bytes)
def download(follow_up_id: int) -> Any:
    with runtime().Session() as s:
        visible(s, follow_up_rows(), FollowUp, follow_up_id, "follow-up")
        row = s.scalar(select(FollowUpAttachment).where(FollowUpAttachment.follow_up_id == follow_up_id,
                                                        FollowUpAttachment.storage_key.is_not(None)))
    if row is None or row.storage_key is None:
        raise ApiError(404, "not_found", f"follow-up {follow_up_id} has no file")
    try:
        stream = storage(runtime()).open(row.storage_key)
    except Missing:
        raise ApiError(410, "gone", f"the file of follow-up {follow_up_id} is no longer stored") from None
    response = send_file(stream, mimetype=row.content_type or "application/octet-stream", as_attachment=True,
                         download_name=row.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"  # never rendered as the page it may claim to be
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


# -- what create_follow_up (web/api_follow_ups.py) and its renderer call ---------------------------------------
def extras_for(s: Session, subject: Subject, body: FollowUpBody) -> Extras:
    """The record's attachment and reminders as `body` asks for them, checked: 422 naming the field for an
    upload that is not the caller's to attach, an unknown material or colleague, a reminder time past;
    409 when the corp has no app that can send the reminders."""
    extras = Extras(mention=list(dict.fromkeys(body.mention)), remind_at=body.remind_at)
    if body.attachment_id is not None and body.material_id is not None:
        raise ApiError(422, "invalid", "material_id: one attachment per record: a file or a material",
                       {"material_id": "give attachment_id or material_id, not both"})
    if body.attachment_id is not None:
        extras.attachment = s.scalar(select(FollowUpAttachment).where(
            FollowUpAttachment.id == body.attachment_id, FollowUpAttachment.corp_id == subject.corp_id,
            FollowUpAttachment.uploaded_by == actor(), FollowUpAttachment.follow_up_id.is_(None)).with_for_update())
        if extras.attachment is None:
            raise ApiError(422, "invalid", f"attachment_id: no unattached upload {body.attachment_id} of yours",
                           {"attachment_id": "unknown, another's, or attached already"})
    if body.material_id is not None:
        material = s.get(Material, body.material_id)
        if material is None or material.corp_id != subject.corp_id or material.deleted_at is not None:
            raise ApiError(422, "invalid", f"material_id: no material {body.material_id} in this corp",
                           {"material_id": "unknown material"})
        extras.attachment = FollowUpAttachment(corp_id=subject.corp_id, material_id=material.id,
                                               filename=material.title, uploaded_by=actor())
        s.add(extras.attachment)
    unknown = unknown_staff(s, subject.corp_id, extras.mention)
    if unknown:
        raise ApiError(422, "invalid", f"mention: not members of this corp: {', '.join(unknown)}",
                       {"mention": f"unknown userid {unknown[0]}"})
    if extras.remind_at is not None and extras.remind_at <= utcnow():
        raise ApiError(422, "invalid", "remind_at: the reminder time has passed", {"remind_at": "in the past"})
    if extras.mention or extras.remind_at:
        extras.app = messaging_app(s, subject.corp_id)
        if extras.app is None:
            raise ApiError(409, "conflict", "no app of this corp can send app messages (none has an agent id)")
    return extras


def links_of(s: Session, follow_up_ids: list[int]) -> dict[int, dict[str, Any]]:
    """attachment, mention and remind_at of each record in `follow_up_ids` (two queries for a page)."""
    links: dict[int, dict[str, Any]] = {i: {"attachment": None, "mention": [], "remind_at": None}
                                        for i in follow_up_ids}
    if not follow_up_ids:
        return links
    for a in s.scalars(select(FollowUpAttachment).where(FollowUpAttachment.follow_up_id.in_(follow_up_ids))):
        links[a.follow_up_id or 0]["attachment"] = attachment_json(a)
    reminders = s.execute(select(FollowUpReminder.follow_up_id, FollowUpReminder.kind, FollowUpReminder.userid,
                                 Plan.due_at).outerjoin(Plan, Plan.id == FollowUpReminder.plan_id)
                          .where(FollowUpReminder.follow_up_id.in_(follow_up_ids)).order_by(FollowUpReminder.id))
    for follow_up_id, kind, userid, due_at in reminders:
        if kind == "mention":
            links[follow_up_id]["mention"].append(userid)
        elif due_at is not None:
            links[follow_up_id]["remind_at"] = due_at.isoformat()
    return links
