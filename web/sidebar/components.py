"""Auxiliary components (辅助组件) from the sidebar: `GET /sidebar/components/<id>?customer_id=` sends the
member's browser to the component's page with the customer's ids signed by the component's secret
(rules/component_signature.py), so that page can trust them. The customer must be one the member may open
(their scope, as on the profile page); the redirect goes only to the URL an admin configured."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, g, redirect, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Customer
from models.sidebar import SidebarComponent
from rules.component_signature import sign, signed_url
from web.api_customers import _scoped
from web.sidebar import session
from web.sidebar.blueprint import bp
from web.sidebar.oauth import message
from web.sidebar_config import layout


def components_for(s: Session, corp_id: str) -> list[dict[str, Any]]:
    """The corp's components in sidebar order (none when the components page is switched off)."""
    if "components" not in layout(s, corp_id).pages:
        return []
    return [{"id": c.id, "name": c.name} for c in s.scalars(select(SidebarComponent).where(
        SidebarComponent.corp_id == corp_id, SidebarComponent.deleted_at.is_(None))
        .order_by(SidebarComponent.position, SidebarComponent.id))]


@bp.get("/components/<id:component_id>")
@session.page
def open_component(component_id: int) -> Any:
    me = g.sidebar
    customer_id = request.args.get("customer_id", "")
    with current_app.extensions["scrm"].Session() as s:
        component = s.scalar(select(SidebarComponent).where(
            SidebarComponent.id == component_id, SidebarComponent.corp_id == me.corp_id,
            SidebarComponent.deleted_at.is_(None)))
        if component is None or "components" not in layout(s, me.corp_id).pages:
            return message("组件不存在", "这个辅助组件已被删除或停用。", 404)
        customer = s.scalar(_scoped().where(Customer.id == int(customer_id))) if customer_id.isdigit() \
            and len(customer_id) < 12 else None
        if customer is None:
            return message("未找到客户", "这位客户不在你的客户列表中。", 404)
        params = sign(component.secret, me.corp_id, customer.external_userid, me.userid, int(time.time()))
        return redirect(signed_url(component.url, params), 302)
