"""Bulk actions (issue 17): tag, untag, change follower, delete to the recycle bin, for up to 1,000 selected
customers (and tag, untag, discard for leads), as one job (jobs/bulk_actions.py) with a result per item:
`POST /bulk-actions` (202) and `GET /bulk-actions/<id>` (progress, counts and a page of the per-item results,
WeCom's errcode included).

The selected customers are read through the customer list's scope (web.api_customers._scoped), leads through
the lead list's (web.org_scope.leads): one the caller may not see is an item that failed as "no customer",
never touched. Roles as the single routes:
tagging as POST /customers/<id>/tags (a member: on their own relation), changing the follower as
POST /transfers (admin), deleting as DELETE /customers/<id> (super_admin)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.bulk_actions import results, tally
from jobs.progress import open_run
from jobs.queue import enqueue
from jobs.runtime import Runtime
from models import BulkAction, BulkItem, Customer, JobRun, Lead, Role
from web import lead_writes
from web import errors
from web.api_customers import _scoped
from web.api_jobs import public
from web.tag_marks import tag_marks
from web.auth import RANK, audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.operations import BulkIn, BulkItemQuery, BulkOut
from web.org_scope import leads
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_bulk_actions", __name__, url_prefix="/api/v1")
errors.register(bp)

NEEDS = {("customers", "tag"): Role.member, ("customers", "untag"): Role.member,
         ("customers", "change_follower"): Role.admin, ("customers", "delete"): Role.super_admin,
         ("leads", "tag"): Role.member, ("leads", "untag"): Role.member, ("leads", "delete"): Role.member}
"""Who may do what: the role of the single route (a lead's delete is its 废弃, POST /leads/<id>/discard)."""


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


def _invalid(field: str, why: str) -> ApiError:
    return ApiError(422, "invalid", "the bulk action has errors", {field: why})


def _visible(s: Session, target: str, corp_id: str, ids: list[int]) -> set[int]:
    """Which of `ids` the caller may see: through the list's own scope (customers', leads')."""
    model, rows = (Customer, _scoped()) if target == "customers" else (Lead, leads())
    return set(s.scalars(rows.with_only_columns(model.id).order_by(None).where(
        model.corp_id == corp_id, model.id.in_(ids))))


def _params(s: Session, body: BulkIn, corp_id: str, app_pk: int) -> dict[str, Any]:
    """What the job needs, checked now (a bad parameter is a 422 and nothing is made)."""
    p = body.params
    principal = g.principal
    if body.kind in ("tag", "untag"):
        if not p.tag_ids:
            raise _invalid("params.tag_ids", "at least one tag")
        if body.target == "leads":  # our own rows: the corp's customer tags, WeCom is not called
            lead_writes.tag_rows(s, corp_id, p.tag_ids, "params.tag_ids")
            return {"tag_ids": p.tag_ids}
        userid = p.userid
        if principal.is_member:
            if userid not in (None, principal.userid):
                raise ApiError(403, "forbidden", "a member tags only their own customers")
            userid = principal.userid
        # WeCom ids; tagging with a tag of an exclusive (互斥) group also removes its siblings (web/tag_marks.py)
        named = ("params.tag_ids", "params.tag_ids")
        add, remove = (tag_marks(s, corp_id, p.tag_ids, [], named) if body.kind == "tag"
                       else tag_marks(s, corp_id, [], p.tag_ids, named))
        return {"app_pk": app_pk, "tag_ids": p.tag_ids, "userid": userid, "add": add, "remove": remove}
    if body.kind == "change_follower":
        if not p.takeover_userid:
            raise _invalid("params.takeover_userid", "required: who takes the customers")
        return {"app_pk": app_pk, "takeover_userid": p.takeover_userid, "message": p.message}
    return {}


@bp.post("/bulk-actions")
@require(Role.member)
@endpoint("A bulk action on up to 1,000 customers as one job (202): tag, untag (mark_tag per customer), "
          "change_follower (在职转接), delete (recycle bin); 422 beyond 1,000 ids", body=BulkIn, response=BulkOut,
          status=202)
def create_bulk_action(body: BulkIn) -> Any:
    principal = g.principal
    needs = NEEDS.get((body.target, body.kind))
    if needs is None:
        raise _invalid("kind", f"{body.kind} is for customers only (leads change owner by POST /leads/assign)")
    if RANK[principal.role] < RANK[needs.value]:
        raise ApiError(403, "forbidden", f"{body.kind} needs the {needs.value} role")
    if len(set(body.ids)) != len(body.ids):
        raise _invalid("ids", "each id once")
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        params = _params(s, body, corp_id, app_pk)
        visible = _visible(s, body.target, corp_id, body.ids)
        run = open_run(s, f"bulk_{body.kind}", corp_id, principal.actor)
        action = BulkAction(corp_id=corp_id, kind=body.kind, target=body.target, params=params,
                            actor=principal.actor, userid=principal.userid, job_id=run.id)
        s.add(action)
        s.flush()
        s.add_all(BulkItem(bulk_id=action.id, position=n, target_id=target_id,
                           ok=None if target_id in visible else False,
                           error="" if target_id in visible else f"no {body.target[:-1]} {target_id}")
                  for n, target_id in enumerate(body.ids))
        audit(s, "bulk_action.create", f"bulk_action:{action.id}", kind=body.kind, on=body.target,
              items=len(body.ids), params={k: v for k, v in params.items() if k != "app_pk"})
        bulk_id = action.id
    enqueue("run_bulk_action", bulk_id)
    with _runtime().Session() as s:
        answer = _json(s, s.get_one(BulkAction, bulk_id), BulkItemQuery.model_validate({}))
    return jsonify(answer), 202, {"Location": url_for("api_bulk_actions.get_bulk_action", bulk_id=bulk_id)}


def _json(s: Session, action: BulkAction, query: BulkItemQuery) -> dict[str, Any]:
    items = select(BulkItem).where(BulkItem.bulk_id == action.id).order_by(BulkItem.position)
    every = results(s, list(s.scalars(items)))
    counted = tally(every)
    if query.ok:
        wanted = {"true": True, "false": False, "pending": None}[query.ok]
        every = [r for r in every if r["ok"] is wanted]
    start = (query.page - 1) * query.page_size
    public_params = {k: v for k, v in action.params.items() if k not in ("app_pk", "add", "remove")}
    return {"id": action.id, "corp_id": action.corp_id, "kind": action.kind, "target": action.target,
            "params": public_params, "actor": action.actor, "created_at": action.created_at.isoformat(),
            "job": public(s.get_one(JobRun, action.job_id)), "counts": counted,
            "items": every[start:start + query.page_size], "page": query.page, "page_size": query.page_size,
            "total": len(every)}


@bp.get("/bulk-actions/<id:bulk_id>")
@require(Role.member)
@endpoint("A bulk action: its job's progress, counts, and a page of per-item results (WeCom's errcode when it "
          "refused an item); a member sees their own", query=BulkItemQuery, response=BulkOut)
def get_bulk_action(bulk_id: int, query: BulkItemQuery) -> Any:
    principal = g.principal
    with _runtime().Session() as s:
        action = s.get(BulkAction, bulk_id)
        if action is None or not in_scope(action.corp_id) or (
                principal.is_member and action.actor != principal.actor):
            raise ApiError(404, "not_found", f"no bulk action {bulk_id}")
        return jsonify(_json(s, action, query))
