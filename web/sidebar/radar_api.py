"""`POST /sidebar/api/radar-links`: a material link the member is about to send becomes their tracked short
link for this customer (雷达, 004 §6.3): one per (material, member, customer), made once and given again.
The page then sends it as a news card through sendChatMessage (the answer has the card's fields)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, g, jsonify
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Material
from models.radar import RadarLink
from web.api_customers import _customer
from web.errors import ApiError
from web.endpoint import endpoint
from web.schemas.common import Body, Id, Out
from web.sidebar import session
from web.sidebar.blueprint import bp

CODE_BYTES = 18  # 24 URL-safe characters, 144 random bits (web/radar.py CODE)


class RadarLinkIn(Body):
    material_id: Id
    customer_id: Id


class RadarLinkOut(Out):
    code: str
    url: str = Field(description="the short link to send: /r/<code> on this service")
    title: str
    desc: str
    imgUrl: str = Field(description="the card's picture (sendChatMessage news.imgUrl)")  # noqa: N815


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def _link(material: Material, customer_id: int) -> RadarLink:
    """The member's link for (material, customer): the existing one, else a new one (a racing twin's wins)."""
    runtime, me = current_app.extensions["scrm"], g.principal
    keys = (RadarLink.material_id == material.id, RadarLink.userid == me.userid, RadarLink.customer_id == customer_id)
    with runtime.Session() as s:
        found = s.scalar(select(RadarLink).where(*keys))
    if found is not None:
        return found
    try:
        with runtime.WriteSession.begin() as s:
            row = RadarLink(corp_id=material.corp_id, code=new_code(), material_id=material.id, userid=me.userid,
                            customer_id=customer_id)
            s.add(row)
            s.flush()
            s.expunge(row)
            return row
    except IntegrityError:
        with runtime.Session() as s:
            return s.scalar(select(RadarLink).where(*keys))


@bp.post("/api/radar-links")
@session.api
@endpoint("The member's tracked short link of a link material for one of their customers", body=RadarLinkIn,
          response=RadarLinkOut)
def radar_link(body: RadarLinkIn) -> Any:
    with current_app.extensions["scrm"].Session() as s:
        customer = _customer(s, body.customer_id)
        material = s.scalar(select(Material).where(Material.id == body.material_id,
                                                   Material.corp_id == customer.corp_id, Material.deleted_at.is_(None)))
    if material is None:
        raise ApiError(404, "not_found", f"no material {body.material_id}")
    if material.kind != "link" or not str(material.payload.get("url", "")).startswith(("http://", "https://")):
        raise ApiError(422, "invalid", "not a link material", {"material_id": "a link material with an http(s) url"})
    link = _link(material, customer.id)
    p = material.payload
    return jsonify({"code": link.code, "url": session.public_url(f"/r/{link.code}"),
                    "title": str(p.get("title") or material.title), "desc": str(p.get("desc") or ""),
                    "imgUrl": str(p.get("picurl") or "")})
