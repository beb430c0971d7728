"""The sidebar's admin API: its configuration (侧边栏配置, 004 §9.11.1: pages, the customer profile's
sections and rows, in order) and the auxiliary components (辅助组件): external pages the sidebar opens with
the customer's ids signed by the component's secret (rules/component_signature.py). A component's secret
is shown once, when it is created, like an API token. Every write is in the audit log (the secret never)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Role
from models.db import get_or_create, utcnow
from models.sidebar import SidebarComponent, SidebarConfig
from web import errors
from web.api import _live
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.common import CorpQuery, Deleted, Items
from web.schemas.sidebar import (SIGNING, ComponentChange, ComponentCreated, ComponentIn, ComponentOut,
                                 SidebarConfigIn, SidebarConfigOut)
from web.scope import corp_and_app, live_rows
from web.sidebar_config import layout

bp = Blueprint("api_sidebar", __name__, url_prefix="/api/v1/sidebar")
errors.register(bp)

MAX_COMPONENTS = 50


@bp.get("/config")
@require(Role.admin)
@endpoint("Which sidebar pages, profile sections and rows show, in order (every one, by default)",
          query=CorpQuery, response=SidebarConfigOut)
def get_config(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        found = layout(s, corp_id)
        return jsonify({"corp_id": corp_id, "pages": list(found.pages), "sections": list(found.sections),
                        "fields": list(found.fields)})


@bp.put("/config")
@require(Role.admin)
@endpoint("Set the sidebar's pages, profile sections and rows (a name left out is hidden)", body=SidebarConfigIn,
          response=SidebarConfigOut)
def put_config(body: SidebarConfigIn) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        row, _ = get_or_create(s, SidebarConfig, {"corp_id": corp_id})
        row.pages, row.sections, row.fields = list(body.pages), list(body.sections), list(body.fields)
        audit(s, "sidebar.config", f"corp:{corp_id}", pages=row.pages, sections=row.sections, fields=row.fields)
        return jsonify({"corp_id": corp_id, "pages": row.pages, "sections": row.sections, "fields": row.fields})


def _json(c: SidebarComponent) -> dict[str, Any]:
    return {"id": c.id, "corp_id": c.corp_id, "name": c.name, "url": c.url, "position": c.position,
            "created_at": c.created_at.isoformat()}


def _component(s: Session, component_id: int) -> SidebarComponent:
    return _live(s, SidebarComponent, component_id, "component")


@bp.get("/components")
@require(Role.admin)
@endpoint("Auxiliary components (辅助组件), in sidebar order; secrets are never shown again", query=CorpQuery,
          response=Items[ComponentOut], description=SIGNING)
def list_components(query: CorpQuery) -> Any:
    rows = live_rows(SidebarComponent).order_by(None).order_by(SidebarComponent.position, SidebarComponent.id)
    if query.corp_id:
        rows = rows.where(SidebarComponent.corp_id == query.corp_id)
    with runtime().Session() as s:
        items = [_json(c) for c in s.scalars(rows)]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/components")
@require(Role.admin)
@endpoint("Add an auxiliary component: its signing secret is in this answer only", body=ComponentIn,
          response=ComponentCreated, status=201, description=SIGNING)
def create_component(body: ComponentIn) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        live = live_rows(SidebarComponent).where(SidebarComponent.corp_id == corp_id).order_by(None).subquery()
        if s.scalar(select(func.count()).select_from(live)) >= MAX_COMPONENTS:
            raise ApiError(422, "invalid", f"at most {MAX_COMPONENTS} components", {"name": "too many components"})
        row = SidebarComponent(corp_id=corp_id, name=body.name, url=body.url, position=body.position,
                               secret=f"cs_{secrets.token_urlsafe(32)}")
        s.add(row)
        s.flush()
        audit(s, "sidebar.component.create", f"sidebar_component:{row.id}", name=row.name, url=row.url)
        return jsonify({**_json(row), "secret": row.secret}), 201


@bp.patch("/components/<id:component_id>")
@require(Role.admin)
@endpoint("Rename, move or re-point a component (its secret stays)", body=ComponentChange, response=ComponentOut)
def update_component(component_id: int, body: ComponentChange) -> Any:
    changes = body.model_dump(exclude_none=True)
    with runtime().WriteSession.begin() as s:
        row = _component(s, component_id)
        for key, value in changes.items():
            setattr(row, key, value)
        audit(s, "sidebar.component.update", f"sidebar_component:{row.id}", **changes)
        return jsonify(_json(row))


@bp.delete("/components/<id:component_id>")
@require(Role.admin)
@endpoint("Remove a component from the sidebar", response=Deleted)
def delete_component(component_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        row = _component(s, component_id)
        row.deleted_at = utcnow()
        audit(s, "sidebar.component.delete", f"sidebar_component:{row.id}")
        return jsonify({"id": row.id, "deleted": True})
