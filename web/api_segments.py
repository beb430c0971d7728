"""Customer segments (客户分组 / 人群包, 004 §5.5) over the admin API: saved filters over customers, dynamic
(evaluated at every read) or static (a snapshot of ids, taken at creation and on refresh); their count, their
customers (paged) and the trend of their tags. Reads go through the customer scope
(web.api_customers._scoped): a member counts and sees only the customers they follow. Writes are admin work,
audited. The filters compile to one query (web/segment_query.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from models import Customer, FollowRelation, FollowTag, Role, Segment, SegmentKind, SegmentMember, Tag
from models.db import utcnow
from web import errors
from web.api import _like, page_rows
from web.api_customers import _render_page, _scoped
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.common import Deleted, Page, PageQuery
from web.schemas.customers import CustomerOut
from web.schemas.segment_filters import SegmentFilters
from web.schemas.segments import (CountOut, FiltersBody, SegmentBody, SegmentEdit, SegmentOut, SegmentQuery,
                                  TrendOut, TrendQuery)
from web.scope import corp_and_app, in_scope
from web.segment_query import count_of, saved_segment, segment_customers, unknown_references
from handlers.channels import corp_zone

bp = Blueprint("api_segments", __name__, url_prefix="/api/v1")
errors.register(bp)
TREND_TAGS = 50


def _json(seg: Segment) -> dict[str, Any]:
    static = seg.kind == SegmentKind.static.value
    return {"id": seg.id, "corp_id": seg.corp_id, "name": seg.name, "kind": seg.kind, "filters": seg.filters,
            "size": seg.size if static else None,
            "refreshed_at": seg.refreshed_at.isoformat() if static and seg.refreshed_at else None,
            "created_by": seg.created_by, "created_at": seg.created_at.isoformat() if seg.created_at else None}


def _segment(s: Session, segment_id: int) -> Segment:
    seg = s.get(Segment, segment_id)
    if seg is None or not in_scope(seg.corp_id):
        raise ApiError(404, "not_found", f"no segment {segment_id}")
    return seg


def _checked(s: Session, corp_id: str, filters: SegmentFilters) -> None:
    problems = unknown_references(s, corp_id, filters)
    if problems:
        raise ApiError(422, "invalid", "; ".join(f"{k}: {v}" for k, v in problems.items()), problems)


def _unique_name(s: Session, corp_id: str, name: str, segment_id: int | None = None) -> None:
    taken = s.scalar(select(Segment.id).where(Segment.corp_id == corp_id, Segment.name == name))
    if taken is not None and taken != segment_id:
        raise ApiError(409, "conflict", f"the corp has a segment named {name!r} already")


def _snapshot(s: Session, seg: Segment) -> None:
    """A static segment's members := the corp's customers its filters pick now (one INSERT … SELECT)."""
    s.execute(delete(SegmentMember).where(SegmentMember.segment_id == seg.id))
    picked = segment_customers(s, seg.corp_id, SegmentFilters.model_validate(seg.filters),
                               select(literal(seg.id), Customer.id).where(Customer.deleted_at.is_(None)))
    s.execute(insert(SegmentMember).from_select(["segment_id", "customer_id"], picked))
    seg.size = s.scalar(select(func.count()).where(SegmentMember.segment_id == seg.id)) or 0
    seg.refreshed_at = utcnow()


def members(s: Session, seg: Segment) -> Select:
    """The segment's customers this token may see (web.api_customers._scoped), newest first."""
    return saved_segment(s, seg, _scoped())


@bp.get("/segments")
@require(Role.member)
@endpoint("Customer segments (客户分组 / 人群包), newest first", query=SegmentQuery, response=Page[SegmentOut])
def list_segments(query: SegmentQuery) -> Any:
    rows = select(Segment).order_by(Segment.id.desc())
    corp_id = g.principal.corp_id or query.corp_id
    if corp_id:
        rows = rows.where(Segment.corp_id == corp_id)
    if query.name:
        rows = rows.where(Segment.name.like(_like(query.name), escape="\\"))
    return page_rows(rows, lambda _s, segs: [_json(seg) for seg in segs], query)


@bp.post("/segments")
@require(Role.admin)
@endpoint("Save a segment; a static one takes its snapshot now", body=SegmentBody, response=SegmentOut,
          status=201)
def create_segment(body: SegmentBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _checked(s, corp_id, body.filters)
        _unique_name(s, corp_id, body.name)
        seg = Segment(corp_id=corp_id, name=body.name, kind=body.kind, filters=body.filters.model_dump(mode="json"),
                      created_by=g.principal.actor, size=0)
        s.add(seg)
        s.flush()
        if seg.kind == SegmentKind.static.value:
            _snapshot(s, seg)
        audit(s, "segment.create", f"segment:{seg.id}", name=seg.name, kind=seg.kind)
        return jsonify(_json(seg)), 201


@bp.post("/segments/preview")
@require(Role.member)
@endpoint("How many customers (that this token may see) some filters pick, without saving them",
          body=FiltersBody, response=CountOut)
def preview(body: FiltersBody) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        _checked(s, corp_id, body.filters)
        return jsonify({"count": count_of(s, segment_customers(s, corp_id, body.filters, _scoped()))})


@bp.get("/segments/<id:segment_id>")
@require(Role.member)
@endpoint("One segment", response=SegmentOut)
def get_segment(segment_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_json(_segment(s, segment_id)))


@bp.patch("/segments/<id:segment_id>")
@require(Role.admin)
@endpoint("Rename a segment or change its filters (a static one takes a new snapshot)", body=SegmentEdit,
          response=SegmentOut)
def update_segment(segment_id: int, body: SegmentEdit) -> Any:
    with runtime().WriteSession.begin() as s:
        seg = _segment(s, segment_id)
        if body.name is not None:
            _unique_name(s, seg.corp_id, body.name, seg.id)
            seg.name = body.name
        if body.filters is not None:
            _checked(s, seg.corp_id, body.filters)
            seg.filters = body.filters.model_dump(mode="json")
            if seg.kind == SegmentKind.static.value:
                _snapshot(s, seg)
        audit(s, "segment.update", f"segment:{seg.id}", changed=sorted(body.model_fields_set))
        return jsonify(_json(seg))


@bp.post("/segments/<id:segment_id>/refresh")
@require(Role.admin)
@endpoint("Take a static segment's snapshot again (409 for a dynamic one)", response=SegmentOut)
def refresh_segment(segment_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        seg = _segment(s, segment_id)
        if seg.kind != SegmentKind.static.value:
            raise ApiError(409, "conflict", "a dynamic segment is evaluated at every read: nothing to refresh")
        _snapshot(s, seg)
        audit(s, "segment.refresh", f"segment:{seg.id}", size=seg.size)
        return jsonify(_json(seg))


@bp.delete("/segments/<id:segment_id>")
@require(Role.admin)
@endpoint("Delete a segment (its customers stay)", response=Deleted)
def delete_segment(segment_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        seg = _segment(s, segment_id)
        s.execute(delete(SegmentMember).where(SegmentMember.segment_id == seg.id))
        s.delete(seg)
        audit(s, "segment.delete", f"segment:{segment_id}", name=seg.name)
    return jsonify({"id": segment_id, "deleted": True})


@bp.get("/segments/<id:segment_id>/count")
@require(Role.member)
@endpoint("How many customers are in the segment (those this token may see)", response=CountOut)
def count_segment(segment_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify({"count": count_of(s, members(s, _segment(s, segment_id)))})


@bp.get("/segments/<id:segment_id>/customers")
@require(Role.member)
@endpoint("The segment's customers (those this token may see), newest first", query=PageQuery,
          response=Page[CustomerOut])
def segment_customers_page(segment_id: int, query: PageQuery) -> Any:
    with runtime().Session() as s:
        rows = members(s, _segment(s, segment_id))
    return page_rows(rows, _render_page, query)


@bp.get("/segments/<id:segment_id>/tag-trend")
@require(Role.member)
@endpoint("The segment's tags over the last N days (30 by default): per tag, how many of its customers carried it "
          "at the end of each corp-local day, from when each was tagged", query=TrendQuery, response=TrendOut)
def tag_trend(segment_id: int, query: TrendQuery) -> Any:
    with runtime().Session() as s:
        seg = _segment(s, segment_id)
        zone = corp_zone(s, seg.corp_id)
        today = utcnow().astimezone(zone).date()
        days = [today - dt.timedelta(days=n) for n in range(query.days - 1, -1, -1)]
        start = dt.datetime.combine(days[0], dt.time(), zone).astimezone(dt.UTC)
        ids = members(s, seg).with_only_columns(Customer.id).order_by(None)
        firsts = (select(FollowTag.tag_pk.label("tag_pk"), func.min(FollowTag.tagged_at).label("first"))
                  .join(FollowRelation, FollowRelation.id == FollowTag.follow_id)
                  .where(FollowRelation.customer_id.in_(ids))
                  .group_by(FollowTag.tag_pk, FollowRelation.customer_id).subquery())
        before = dict(s.execute(select(firsts.c.tag_pk, func.count()).where(firsts.c.first < start)
                                .group_by(firsts.c.tag_pk)).all())
        added: dict[int, list[int]] = {}
        for tag_pk, first in s.execute(select(firsts.c.tag_pk, firsts.c.first).where(firsts.c.first >= start)):
            day = first.replace(tzinfo=first.tzinfo or dt.UTC).astimezone(zone).date()
            added.setdefault(tag_pk, [0] * len(days))[max(0, (day - days[0]).days)] += 1
        tags = {pk: name for pk, name in s.execute(select(Tag.id, Tag.name).where(
            Tag.id.in_(set(before) | set(added)), Tag.deleted_at.is_(None)))}
    trends = []
    for pk, name in tags.items():
        running, counts = before.get(pk, 0), []
        for n in added.get(pk, [0] * len(days)):
            running += n
            counts.append(running)
        trends.append({"tag_pk": pk, "name": name, "counts": counts})
    trends.sort(key=lambda t: (-t["counts"][-1], t["tag_pk"]))
    return jsonify({"days": [d.isoformat() for d in days], "tags": trends[:TREND_TAGS]})
