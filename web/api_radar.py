"""The link radar's admin API (雷达, 004 §9.6): the corp's notify settings, a material's auto-tag, and the
numbers: per link, per material, and the opens themselves. Links are made by the sidebar
(web/sidebar/radar_api.py) and opened at /r/<code> (web/radar.py).

Scope: a member sees the links they sent and their opens; an admin the corp's. Settings and auto-tags are
an admin's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from handlers.tags import is_pending
from models import Material, Role, Tag
from models.db import get_or_create
from models.radar import RadarLink, RadarOpen, RadarSettings, RadarTagRule
from web import errors
from web.access import visible_userids
from web.api import _live, page_rows
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import CorpQuery, Page
from web.schemas.radar import (AutoTagIn, AutoTagOut, LinkQuery, MaterialStats, OpenQuery, RadarLinkStats,
                               RadarOpenOut, RadarSettingsIn, RadarSettingsOut)
from web.sales_scope import runtime
from web.scope import corp_and_app

bp = Blueprint("api_radar", __name__, url_prefix="/api/v1/radar")
errors.register(bp)


def _settings_json(corp_id: str, row: RadarSettings | None) -> dict[str, Any]:
    return {"corp_id": corp_id, "notify": row.notify if row else "instant",
            "batch_minutes": row.batch_minutes if row else 30}


@bp.get("/settings")
@require(Role.admin)
@endpoint("The radar's notify settings (instant, batched within working hours, off)", query=CorpQuery,
          response=RadarSettingsOut)
def get_settings(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        return jsonify(_settings_json(corp_id, s.scalar(select(RadarSettings).where(RadarSettings.corp_id == corp_id))))


@bp.put("/settings")
@require(Role.admin)
@endpoint("Set how followers hear of opens", body=RadarSettingsIn, response=RadarSettingsOut)
def put_settings(body: RadarSettingsIn) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        row, _ = get_or_create(s, RadarSettings, {"corp_id": corp_id})
        row.notify, row.batch_minutes = body.notify, body.batch_minutes
        audit(s, "radar.settings", f"corp:{corp_id}", notify=body.notify, batch_minutes=body.batch_minutes)
        return jsonify(_settings_json(corp_id, row))


def _material(s: Session, material_id: int) -> Material:
    return _live(s, Material, material_id, "material")


@bp.put("/materials/<id:material_id>/auto-tag")
@require(Role.admin)
@endpoint("Tag customers on their first open of this material's links (null: no auto-tag)", body=AutoTagIn,
          response=AutoTagOut)
def put_auto_tag(material_id: int, body: AutoTagIn) -> Any:
    with runtime().WriteSession.begin() as s:
        m = _material(s, material_id)
        rule = s.scalar(select(RadarTagRule).where(RadarTagRule.material_id == m.id))
        if body.tag_id is None:
            if rule is not None:
                s.delete(rule)
        else:
            tag = s.get(Tag, body.tag_id)
            if tag is None or tag.corp_id != m.corp_id or tag.deleted_at is not None or is_pending(tag.tag_id):
                raise ApiError(422, "invalid", "unknown tag", {"tag_id": "a corp tag of the material's corp"})
            if rule is None:
                s.add(RadarTagRule(corp_id=m.corp_id, material_id=m.id, tag_pk=tag.id))
            else:
                rule.tag_pk = tag.id
        audit(s, "radar.auto_tag", f"material:{m.id}", tag_id=body.tag_id)
        return jsonify({"material_id": m.id, "tag_id": body.tag_id})


def _links() -> Select:
    """The links this token may see: its corp's; a member's data scope's (web/access.py)."""
    query = select(RadarLink).order_by(RadarLink.id.desc())
    if g.principal.corp_id:
        query = query.where(RadarLink.corp_id == g.principal.corp_id)
    seen = visible_userids()
    return query if seen is None else query.where(RadarLink.userid.in_(seen))


def _link_counts(s: Session, link_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Opens, distinct readers, dwell ≥15 s and scroll-to-bottom counts, and the last open, per link."""
    rows = s.execute(select(RadarOpen.link_id, func.count(RadarOpen.id), func.count(func.distinct(RadarOpen.reader)),
                            func.coalesce(func.sum(case((RadarOpen.dwell_seconds >= 15, 1), else_=0)), 0),
                            func.coalesce(func.sum(case((RadarOpen.reached_bottom.is_(True), 1), else_=0)), 0),
                            func.max(RadarOpen.at))
                     .where(RadarOpen.link_id.in_(link_ids)).group_by(RadarOpen.link_id)).all() if link_ids else []
    return {r[0]: {"opens": int(r[1]), "readers": int(r[2]), "dwelled": int(r[3]), "bottom": int(r[4]),
                   "last_open_at": r[5].isoformat() if r[5] else None} for r in rows}


def _narrowed(rows: Select, filters: list[tuple[Any, Any]]) -> Select:
    """`rows` where each (column, value) given (value not None) holds."""
    for column, value in filters:
        if value is not None:
            rows = rows.where(column == value)
    return rows


def _link_json(s: Session, links: list[RadarLink]) -> list[dict[str, Any]]:
    counts = _link_counts(s, [link.id for link in links])
    empty = {"opens": 0, "readers": 0, "dwelled": 0, "bottom": 0, "last_open_at": None}
    return [{"id": k.id, "code": k.code, "material_id": k.material_id, "userid": k.userid, "customer_id": k.customer_id,
             "created_at": k.created_at.isoformat(), **counts.get(k.id, empty)} for k in links]


@bp.get("/links")
@require(Role.member)
@endpoint("Tracked links with their opens and readers (a member: their own)", query=LinkQuery,
          response=Page[RadarLinkStats])
def list_links(query: LinkQuery) -> Any:
    rows = _narrowed(_links(), [(RadarLink.corp_id, query.corp_id), (RadarLink.material_id, query.material_id),
                                (RadarLink.customer_id, query.customer_id), (RadarLink.userid, query.userid)])
    return page_rows(rows, _link_json, query)


@bp.get("/materials/<id:material_id>/stats")
@require(Role.member)
@endpoint("A material's radar numbers over the links this token may see", response=MaterialStats)
def material_stats(material_id: int) -> Any:
    with runtime().Session() as s:
        m = _material(s, material_id)
        links = _links().where(RadarLink.material_id == m.id).order_by(None).subquery()
        opens = select(RadarOpen).join(links, links.c.id == RadarOpen.link_id).subquery()
        n_links = s.scalar(select(func.count()).select_from(links))
        total, readers, dwelled, bottom, customers = s.execute(select(
            func.count(opens.c.id), func.count(func.distinct(opens.c.reader)),
            func.coalesce(func.sum(case((opens.c.dwell_seconds >= 15, 1), else_=0)), 0),
            func.coalesce(func.sum(case((opens.c.reached_bottom.is_(True), 1), else_=0)), 0),
            func.count(func.distinct(links.c.customer_id))).select_from(opens).join(
            links, links.c.id == opens.c.link_id)).one()
        tag = s.scalar(select(RadarTagRule.tag_pk).where(RadarTagRule.material_id == m.id))
        return jsonify({"material_id": m.id, "title": str(m.payload.get("title") or m.title), "links": n_links,
                        "opens": total, "readers": readers, "dwelled": dwelled, "bottom": bottom,
                        "customers": customers, "auto_tag_id": tag})


def _open_json(s: Session, opens: list[RadarOpen]) -> list[dict[str, Any]]:
    links = {k.id: k for k in s.scalars(select(RadarLink).where(RadarLink.id.in_({o.link_id for o in opens})))}
    return [{"id": o.id, "link_id": o.link_id, "material_id": links[o.link_id].material_id,
             "customer_id": links[o.link_id].customer_id, "userid": links[o.link_id].userid, "reader": o.reader,
             "agent": o.agent, "dwell_seconds": o.dwell_seconds, "reached_bottom": o.reached_bottom,
             "at": o.at.isoformat()} for o in opens]


@bp.get("/opens")
@require(Role.member)
@endpoint("Opens of the links this token may see, newest first", query=OpenQuery, response=Page[RadarOpenOut])
def list_opens(query: OpenQuery) -> Any:
    links = _narrowed(_links().order_by(None), [(RadarLink.corp_id, query.corp_id), (RadarLink.id, query.link_id),
                                                (RadarLink.material_id, query.material_id),
                                                (RadarLink.customer_id, query.customer_id)]).subquery()
    rows = select(RadarOpen).join(links, links.c.id == RadarOpen.link_id).order_by(RadarOpen.at.desc(),
                                                                                   RadarOpen.id.desc())
    return page_rows(rows, _open_json, query)
