"""Hand-overs (客户继承, 004 §4.4) over the admin API: `/transfers` (list, create, detail with each customer's
and group's status, errcode and reason), `/resigned-members` (离职继承's list: awaiting and done tabs) and
`/inherit-rule` (离职自动分配). The DB side: handlers/transfers.py; WeCom's: jobs/transfers.py.

Scope: admins and super_admins make hand-overs and set the rule; a member token reads the hand-overs from or
to itself and the members of the departments it leads, and those members among the resigned ones. Every
write is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from handlers.registry import HandlerContext
from handlers.transfers import TransferRefused, awaiting_customers, awaiting_groups, create_transfer
from jobs.queue import enqueue_outbox
from jobs.unassigned import request_unassigned_sync
from models import Corp, Customer, Department, Role, Staff
from models.transfer import InheritRule, ItemStatus, Transfer, TransferItem
from rules.calendar import local_midnight
from web import errors
from web.api import page_rows
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.group_stats import zone_of
from web.sales_scope import actor, members_in_scope, runtime
from web.api_jobs import started
from web.schemas.common import CorpBody, CorpQuery, Page
from web.schemas.jobs import Started
from web.schemas.transfers import (InheritRuleBody, InheritRuleOut, ResignedOut, ResignedQuery, TransferBody,
                                   TransferDetail, TransferOut, TransferQuery)
from web.scope import check_corp, corp_and_app, in_scope

bp = Blueprint("api_transfers", __name__, url_prefix="/api/v1")
errors.register(bp)


def _scoped(s: Session, rows: Select, corp_id: str | None) -> Select:
    """A member token: only hand-overs from or to the members it may see."""
    scope = members_in_scope(s, str(corp_id or g.principal.corp_id or ""))
    if scope is None:
        return rows
    return rows.where(or_(Transfer.handover_userid.in_(scope), Transfer.takeover_userid.in_(scope)))


def _counts(s: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    for transfer_id, status, n in s.execute(select(TransferItem.transfer_id, TransferItem.status, func.count())
                                            .where(TransferItem.transfer_id.in_(ids))
                                            .group_by(TransferItem.transfer_id, TransferItem.status)):
        counts[transfer_id][status] = n
    return counts


def _json(t: Transfer, counts: dict[str, int]) -> dict[str, Any]:
    return {"id": t.id, "corp_id": t.corp_id, "kind": t.kind, "handover_userid": t.handover_userid,
            "takeover_userid": t.takeover_userid, "message": t.message, "auto": t.auto, "created_by": t.created_by,
            "created_at": t.created_at.isoformat(), "counts": counts}


def _detail(s: Session, t: Transfer) -> dict[str, Any]:
    items = s.scalars(select(TransferItem).where(TransferItem.transfer_id == t.id).order_by(TransferItem.id)).all()
    names = dict(s.execute(select(Customer.external_userid, Customer.name).where(
        Customer.corp_id == t.corp_id, Customer.external_userid.in_([i.external_userid for i in items
                                                                      if i.external_userid]))).all())
    return _json(t, _counts(s, [t.id])[t.id]) | {"items": [
        {"external_userid": i.external_userid or None, "chat_id": i.chat_id or None,
         "customer_name": names.get(i.external_userid) if i.external_userid else None, "status": i.status,
         "errcode": i.errcode, "reason": i.reason, "takeover_at": i.takeover_at.isoformat() if i.takeover_at else None}
        for i in items]}


@bp.get("/transfers")
@require(Role.member)
@endpoint("Hand-overs of customers and groups (客户继承), newest first, with counts by status",
          query=TransferQuery, response=Page[TransferOut])
def list_transfers(query: TransferQuery) -> Any:
    rows = select(Transfer).order_by(Transfer.id.desc())
    corp = g.principal.corp_id or query.corp_id
    if corp:
        rows = rows.where(Transfer.corp_id == corp)
    if query.kind:
        rows = rows.where(Transfer.kind == query.kind.value)
    if query.userid:
        rows = rows.where(or_(Transfer.handover_userid == query.userid, Transfer.takeover_userid == query.userid))
    if query.status:
        rows = rows.where(exists().where(TransferItem.transfer_id == Transfer.id,
                                         TransferItem.status == query.status.value))
    with runtime().Session() as s:
        rows = _scoped(s, rows, corp)

    def render(s: Session, page: list[Transfer]) -> list[dict[str, Any]]:
        counts = _counts(s, [t.id for t in page])
        return [_json(t, counts[t.id]) for t in page]

    return page_rows(rows, render, query)


@bp.get("/transfers/<id:transfer_id>")
@require(Role.member)
@endpoint("One hand-over with each customer's and group's status, WeCom errcode and reason",
          response=TransferDetail)
def get_transfer(transfer_id: int) -> Any:
    with runtime().Session() as s:
        t = s.get(Transfer, transfer_id)
        if t is None or not in_scope(t.corp_id) or s.scalar(
                _scoped(s, select(Transfer.id).where(Transfer.id == t.id), t.corp_id)) is None:
            raise ApiError(404, "not_found", f"no transfer {transfer_id}")
        return jsonify(_detail(s, t))


@bp.post("/transfers")
@require(Role.admin)
@endpoint("Hand over customers and groups: a serving member's (在职转接) or a resigned one's (离职继承). A customer "
          "handed over twice in the last 90 days is refused (blocked) without calling WeCom", body=TransferBody,
          response=TransferDetail, status=201)
def create(body: TransferBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)
        try:
            t = create_transfer(ctx, body.kind, body.handover_userid, body.takeover_userid, body.external_userids,
                                body.chat_ids, body.message, by=actor())
        except TransferRefused as exc:
            raise ApiError(422, "invalid", str(exc), exc.fields) from None
        s.flush()
        audit(s, "transfer.create", f"transfer:{t.id}", kind=t.kind, handover=t.handover_userid,
              takeover=t.takeover_userid, customers=len(body.external_userids or []), groups=len(body.chat_ids or []))
        transfer_id = t.id
        rows = [(r.id, r.queue) for r in ctx.pending_outbox]
    enqueue_outbox(rows)
    with runtime().Session() as s:
        return jsonify(_detail(s, s.get(Transfer, transfer_id))), 201


# -- resigned members (离职继承) --------------------------------------------------------------------------------
@bp.get("/resigned-members")
@require(Role.member)
@endpoint("Resigned members (离职继承): customers and groups awaiting hand-over, by resignation date, newest first "
          "(every corp the token sees when no corp_id is given)", query=ResignedQuery, response=Page[ResignedOut])
def resigned_members(query: ResignedQuery) -> Any:
    check_corp(query.corp_id)
    with runtime().Session() as s:
        corps = [g.principal.corp_id or query.corp_id] if g.principal.corp_id or query.corp_id else \
            list(s.scalars(select(Corp.corp_id).order_by(Corp.corp_id)))
        out = [row for corp_id in corps for row in _resigned(s, str(corp_id), query)]
    start = (query.page - 1) * query.page_size
    return jsonify({"items": out[start:start + query.page_size], "page": query.page, "page_size": query.page_size,
                    "total": len(out)})


def _resigned(s: Session, corp_id: str, query: ResignedQuery) -> list[dict[str, Any]]:
    """One corp's resigned members on `query.tab` (a corp's leavers: hundreds at most, counted one by one)."""
    zone = zone_of(s, corp_id)
    rows = select(Staff).where(Staff.corp_id == corp_id, Staff.status == "resigned")
    if query.since:
        rows = rows.where(Staff.resigned_at >= local_midnight(query.since, zone))
    if query.until:
        rows = rows.where(Staff.resigned_at < local_midnight(query.until + dt.timedelta(days=1), zone))
    scope = members_in_scope(s, corp_id)
    if scope is not None:
        rows = rows.where(Staff.userid.in_(scope))
    depts = dict(s.execute(select(Department.dept_id, Department.name).where(Department.corp_id == corp_id)).all())
    out = []
    for m in s.scalars(rows.order_by(Staff.resigned_at.desc(), Staff.id)):
        waiting = (len(awaiting_customers(s, corp_id, m.userid)), len(awaiting_groups(s, corp_id, m.userid)))
        if (query.tab == "awaiting") != any(waiting):
            continue
        moved = dict(s.execute(select(TransferItem.chat_id != "", func.count()).join(Transfer).where(
            Transfer.corp_id == corp_id, Transfer.handover_userid == m.userid,
            TransferItem.status == ItemStatus.done.value).group_by(TransferItem.chat_id != "")).all())
        out.append({"userid": m.userid, "name": m.name,
                    "departments": [{"id": int(d), "name": depts.get(int(d), "")} for d in m.department or []],
                    "resigned_at": m.resigned_at.isoformat() if m.resigned_at else None,
                    "customers_awaiting": waiting[0], "groups_awaiting": waiting[1],
                    "customers_handed_over": moved.get(False, 0), "groups_handed_over": moved.get(True, 0)})
    return out


@bp.post("/resigned-members/sync")
@require(Role.admin)
@endpoint("Read WeCom's list of resigned members' customers (get_unassigned_list, every page) into the directory "
          "(202: the job's progress)", body=CorpBody, body_optional=True, response=Started, status=202)
def sync_resigned(body: CorpBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        ctx = HandlerContext(session=s, corp_id=corp_id, app_pk=app_pk)
        row = request_unassigned_sync(ctx, actor())
        s.flush()
        audit(s, "resigned_members.sync", f"corp:{corp_id}", outbox_id=row.id)
        outbox_id, job_id = row.id, row.args["job_id"]
        pending = [(row.id, row.queue)] if row.status == "pending" else []
    enqueue_outbox(pending)
    return started(job_id, outbox_id=outbox_id, syncing=True)


# -- automatic inheritance (离职自动分配) -------------------------------------------------------------------------
def _rule_json(corp_id: str, rule: InheritRule | None) -> dict[str, Any]:
    if rule is None:
        return {"corp_id": corp_id, "enabled": False, "position": "", "spread": "even", "fallback_userid": "",
                "last_run_day": None}
    return {"corp_id": corp_id, "enabled": rule.enabled, "position": rule.position, "spread": rule.spread,
            "fallback_userid": rule.fallback_userid,
            "last_run_day": rule.last_run_day.isoformat() if rule.last_run_day else None}


@bp.get("/inherit-rule")
@require(Role.admin)
@endpoint("The corp's automatic inheritance rule (离职自动分配)", query=CorpQuery, response=InheritRuleOut)
def get_rule(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        return jsonify(_rule_json(corp_id, s.scalar(select(InheritRule).where(InheritRule.corp_id == corp_id))))


@bp.put("/inherit-rule")
@require(Role.admin)
@endpoint("Set the automatic inheritance rule: heirs in the leaver's department (or below) with the position, "
          "even or round robin, daily at 10:00 corp time for the previous day's resignations",
          body=InheritRuleBody, response=InheritRuleOut)
def put_rule(body: InheritRuleBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        if body.fallback_userid and s.scalar(select(Staff.status).where(
                Staff.corp_id == corp_id, Staff.userid == body.fallback_userid)) != "active":
            raise ApiError(422, "invalid", "fallback_userid: no active member",
                           {"fallback_userid": "no active member of this corp"})
        rule = s.scalar(select(InheritRule).where(InheritRule.corp_id == corp_id))
        if rule is None:
            rule = InheritRule(corp_id=corp_id)
            s.add(rule)
        rule.enabled, rule.position, rule.spread = body.enabled, body.position, body.spread
        rule.fallback_userid = body.fallback_userid
        audit(s, "inherit_rule.update", f"inherit_rule:{corp_id}", **body.model_dump(exclude={"corp_id"}))
        s.flush()
        return jsonify(_rule_json(corp_id, rule))
