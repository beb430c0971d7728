"""The address-book admin API: departments (tree order), staff (filters, masked mobiles), full sync."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from handlers.directory import STAFF_STATUSES
from jobs.directory import request_directory_sync
from jobs.queue import enqueue_outbox
from jobs.runtime import Runtime
from models import App, Role, Staff
from models.directory import Department
from rules.privacy import mask_mobile
from web import errors
from web.api import _like, _page
from web.api_jobs import started
from web.auth import audit, require
from web.errors import ApiError
from web.scope import corp_and_app

bp = Blueprint("api_directory", __name__, url_prefix="/api/v1")
errors.register(bp)


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


def _corp_filter() -> str | None:
    return g.principal.corp_id or request.args.get("corp_id") or None


def _tree(depts: list[Department]) -> list[tuple[Department, int]]:
    """Departments depth-first from the roots, siblings by WeCom's order (higher first) then id."""
    ids = {d.dept_id for d in depts}
    children: dict[int | None, list[Department]] = {}
    for d in depts:
        parent = d.parent_id if d.parent_id in ids and d.parent_id != d.dept_id else None
        children.setdefault(parent, []).append(d)
    out: list[tuple[Department, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for d in sorted(children.get(parent, []), key=lambda d: (-d.order, d.dept_id)):
            out.append((d, depth))
            walk(d.dept_id, depth + 1)

    walk(None, 0)
    return out


@bp.get("/departments")
@require(Role.admin)
def list_departments() -> Any:
    with _runtime().Session() as s:
        query = select(Department).where(Department.deleted_at.is_(None))
        corp_id = _corp_filter()
        if corp_id:
            query = query.where(Department.corp_id == corp_id)
        rows = s.scalars(query).all()
        items = [{"id": d.dept_id, "corp_id": d.corp_id, "name": d.name, "parent_id": d.parent_id,
                  "order": d.order, "leaders": list(d.leaders or []), "depth": depth}
                 for corp in sorted({d.corp_id for d in rows})
                 for d, depth in _tree([r for r in rows if r.corp_id == corp])]
    return jsonify({"items": items, "total": len(items)})


def _subtree(s: Session, corp_id: str | None, root: int) -> set[int]:
    query = select(Department.dept_id, Department.parent_id).where(Department.deleted_at.is_(None))
    if corp_id:
        query = query.where(Department.corp_id == corp_id)
    children: dict[int, list[int]] = {}
    for dept_id, parent_id in s.execute(query):
        if parent_id is not None and parent_id != dept_id:
            children.setdefault(parent_id, []).append(dept_id)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@bp.get("/staff")
@require(Role.admin)
def list_staff() -> Any:
    status = request.args.get("status", "")
    if status and status not in STAFF_STATUSES:
        raise ApiError(400, "bad_request", f"status must be one of {', '.join(STAFF_STATUSES)}")
    raw_department = request.args.get("department", "")
    if raw_department and not (raw_department.isascii() and raw_department.isdigit()):
        raise ApiError(400, "bad_request", "department must be a department id (a whole number)")
    department = int(raw_department) if raw_department else None
    corp_id = _corp_filter()
    query = select(Staff).order_by(Staff.corp_id, Staff.userid)
    if corp_id:
        query = query.where(Staff.corp_id == corp_id)
    if status:
        query = query.where(Staff.status == status)
    keyword = request.args.get("keyword", "").strip()
    if keyword:
        like = _like(keyword)
        query = query.where(or_(*(col.like(like, escape="\\") for col in (Staff.name, Staff.userid, Staff.position))))
    if department is not None:
        with _runtime().Session() as s:
            wanted = _subtree(s, corp_id, department)
            ids = [pk for pk, depts in s.execute(query.with_only_columns(Staff.id, Staff.department))
                   if wanted & {int(d) for d in depts or []}]
        query = query.where(Staff.id.in_(ids))
    show_mobile = g.principal.role == Role.super_admin.value

    def render(st: Staff) -> dict[str, Any]:
        return {"userid": st.userid, "corp_id": st.corp_id, "name": st.name, "department": list(st.department or []),
                "status": st.status, "position": st.position, "manager_userid": st.manager_userid,
                "mobile": st.mobile if show_mobile else mask_mobile(st.mobile),
                "resigned_at": st.resigned_at.isoformat() if st.resigned_at else None}

    return _page(query, render)


@bp.post("/directory/sync")
@require(Role.admin)
def sync_directory() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "send a JSON object")
    slug = body.get("app")
    with _runtime().WriteSession.begin() as s:
        if slug is not None:
            app = s.scalar(select(App).where(App.slug == str(slug)))
            if app is None:
                raise ApiError(404, "not_found", f"no app {slug!r}")
            corp_id, app_pk = app.corp.corp_id, app.id
            if g.principal.corp_id and g.principal.corp_id != corp_id:
                raise ApiError(403, "forbidden", "this token belongs to another corp")
        else:
            corp_id, app_pk = corp_and_app(s, body.get("corp_id"))
        row = request_directory_sync(s, corp_id, app_pk, f"token:{g.principal.name}")
        audit(s, "directory.sync", f"corp:{corp_id}", outbox_id=row.id)
        outbox_id, pending = row.id, [(row.id, row.queue)] if row.status == "pending" else []
        job_id = row.args["job_id"]
    enqueue_outbox(pending)
    return started(job_id, outbox_id=outbox_id, syncing=True)
