"""The address-book admin API: departments (tree order), staff (filters, masked mobiles), full sync."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import or_, select

from jobs.directory import request_directory_sync
from jobs.queue import enqueue_outbox
from jobs.runtime import Runtime
from models import App, Role, Staff
from models.directory import Department, sub_departments
from rules.privacy import mask_mobile
from web import errors
from web.api import _like, page
from web.api_jobs import started
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import CorpQuery, Items, Page
from web.schemas.jobs import Started
from web.schemas.directory import DepartmentOut, DirectorySync, StaffOut, StaffQuery
from web.scope import corp_and_app

bp = Blueprint("api_directory", __name__, url_prefix="/api/v1")
errors.register(bp)


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


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
@endpoint("Departments in tree order (depth-first, WeCom's order)", query=CorpQuery,
          response=Items[DepartmentOut])
def list_departments(query: CorpQuery) -> Any:
    with _runtime().Session() as s:
        rows_query = select(Department).where(Department.deleted_at.is_(None))
        corp_id = g.principal.corp_id or query.corp_id
        if corp_id:
            rows_query = rows_query.where(Department.corp_id == corp_id)
        rows = s.scalars(rows_query).all()
        items = [{"id": d.dept_id, "corp_id": d.corp_id, "name": d.name, "parent_id": d.parent_id,
                  "order": d.order, "leaders": list(d.leaders or []), "depth": depth}
                 for corp in sorted({d.corp_id for d in rows})
                 for d, depth in _tree([r for r in rows if r.corp_id == corp])]
    return jsonify({"items": items, "total": len(items)})


@bp.get("/staff")
@require(Role.admin)
@endpoint("Staff members; mobiles masked (138****0000) below super_admin", query=StaffQuery,
          response=Page[StaffOut])
def list_staff(query: StaffQuery) -> Any:
    corp_id = g.principal.corp_id or query.corp_id
    rows = select(Staff).order_by(Staff.corp_id, Staff.userid)
    if corp_id:
        rows = rows.where(Staff.corp_id == corp_id)
    if query.status:
        rows = rows.where(Staff.status == query.status)
    keyword = (query.keyword or "").strip()
    if keyword:
        like = _like(keyword)
        rows = rows.where(or_(*(col.like(like, escape="\\") for col in (Staff.name, Staff.userid, Staff.position))))
    if query.department is not None:
        with _runtime().Session() as s:
            wanted = sub_departments(s, corp_id, {query.department})
            ids = [pk for pk, depts in s.execute(rows.with_only_columns(Staff.id, Staff.department))
                   if wanted & {int(d) for d in depts or []}]
        rows = rows.where(Staff.id.in_(ids))
    show_mobile = g.principal.role == Role.super_admin.value

    def render(st: Staff) -> dict[str, Any]:
        return {"userid": st.userid, "corp_id": st.corp_id, "name": st.name, "department": list(st.department or []),
                "status": st.status, "position": st.position, "manager_userid": st.manager_userid,
                "mobile": st.mobile if show_mobile else mask_mobile(st.mobile),
                "resigned_at": st.resigned_at.isoformat() if st.resigned_at else None}

    return page(rows, render, query)


@bp.post("/directory/sync")
@require(Role.admin)
@endpoint("Full sync of departments and staff from WeCom (202)", body=DirectorySync, body_optional=True,
          response=Started, status=202)
def sync_directory(body: DirectorySync) -> Any:
    slug = body.app
    with _runtime().WriteSession.begin() as s:
        if slug is not None:
            app = s.scalar(select(App).where(App.slug == slug))
            if app is None:
                raise ApiError(404, "not_found", f"no app {slug!r}")
            corp_id, app_pk = app.corp.corp_id, app.id
            if g.principal.corp_id and g.principal.corp_id != corp_id:
                raise ApiError(403, "forbidden", "this token belongs to another corp")
        else:
            corp_id, app_pk = corp_and_app(s, body.corp_id)
        row = request_directory_sync(s, corp_id, app_pk, f"token:{g.principal.name}")
        audit(s, "directory.sync", f"corp:{corp_id}", outbox_id=row.id)
        outbox_id, pending = row.id, [(row.id, row.queue)] if row.status == "pending" else []
        job_id = row.args["job_id"]
    enqueue_outbox(pending)
    return started(job_id, outbox_id=outbox_id, syncing=True)
