"""The public pool's configuration over the admin API (004 §4.8 公海, 9.9.4 公海分组, 9.9.5 退回原因; 001 资源池
参数设置): pools with their departments and recycle rules, the corp's return reasons, and the per-member
claim limit. Members read the pools they see (web/pool_scope.py) and the reasons; admins write. Audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import CorpSettings, Customer, Role
from models.db import get_or_create
from models.pool import Pool, PoolMove, PoolReturnReason, default_pool
from web import errors
from web.auth import audit, require
from web.endpoint import endpoint
from web.errors import ApiError
from web.pool_scope import visible_pool, visible_pool_ids
from web.sales_scope import runtime
from web.schemas.common import CorpQuery, Deleted, Items
from web.schemas.pools import (PoolBody, PoolFields, PoolOut, PoolPatch, PoolSettingsBody, PoolSettingsOut,
                               ReasonBody, ReasonOut, ReasonPatch)
from web.scope import corp_and_app, in_scope

bp = Blueprint("api_pools", __name__, url_prefix="/api/v1")
errors.register(bp)

SETTINGS = list(PoolFields.model_fields)


# -- pools ------------------------------------------------------------------------------------------------
def _pool_json(s: Session, pools: list[Pool]) -> list[dict[str, Any]]:
    counts = dict(s.execute(select(Customer.pool_id, func.count()).where(
        Customer.pool_id.in_([p.id for p in pools]), Customer.pooled_at.is_not(None),
        Customer.deleted_at.is_(None)).group_by(Customer.pool_id)).all()) if pools else {}
    return [{"id": p.id, "corp_id": p.corp_id, "is_default": p.is_default, "customers": counts.get(p.id, 0),
             **{k: getattr(p, k) for k in SETTINGS}} for p in pools]


def _unique(s: Session, change: Callable[[], None]) -> bool:
    """Make `change` and flush it in a savepoint: False (and nothing changed) when a name it sets is taken."""
    try:
        with s.begin_nested():
            change()
            s.flush()
    except IntegrityError:
        return False
    return True


def _save(s: Session, pool: Pool, action: str, change: Callable[[], None], name: str | None) -> Any:
    if not _unique(s, change):
        raise ApiError(409, "conflict", f"the pool name {name} is taken", {"name": "taken"})
    audit(s, action, f"pool:{pool.id}", **{k: getattr(pool, k) for k in SETTINGS})
    return _pool_json(s, [pool])[0]


@bp.get("/pools")
@require(Role.member)
@endpoint("The corp's pools (公海), the default first: a member sees those its departments may see. The "
          "default pool (for unassigned leads and customers with no other) is made on the first look", query=CorpQuery,
          response=Items[PoolOut])
def list_pools(query: CorpQuery) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        default_pool(s, corp_id)
        ids = visible_pool_ids(s)
        pools = [p for p in s.scalars(select(Pool).where(Pool.corp_id == corp_id).order_by(
            Pool.is_default.desc(), Pool.id)) if ids is None or p.id in ids]
        items = _pool_json(s, pools)
    return jsonify({"items": items, "total": len(items)})


@bp.get("/pools/<id:pool_id>")
@require(Role.member)
@endpoint("One pool (404: not one the caller sees)", response=PoolOut)
def get_pool(pool_id: int) -> Any:
    with runtime().Session() as s:
        return jsonify(_pool_json(s, [visible_pool(s, pool_id)])[0])


@bp.post("/pools")
@require(Role.admin)
@endpoint("Add a pool with its departments and rules (409: the name is taken)", body=PoolBody, response=PoolOut,
          status=201)
def create_pool(body: PoolBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        pool = Pool(corp_id=corp_id, **{k: v for k, v in body.model_dump(include=set(SETTINGS)).items()
                                        if v is not None})
        return jsonify(_save(s, pool, "pool.create", lambda: s.add(pool), body.name)), 201


@bp.patch("/pools/<id:pool_id>")
@require(Role.admin)
@endpoint("Change a pool: the keys given (a rule given null is off)", body=PoolPatch, response=PoolOut)
def update_pool(pool_id: int, body: PoolPatch) -> Any:
    with runtime().WriteSession.begin() as s:
        pool = visible_pool(s, pool_id)
        changes = body.model_dump(include=body.model_fields_set & set(SETTINGS))
        for key in ("name", "departments", "auto_recycle"):
            if key in changes and changes[key] is None:
                raise ApiError(422, "invalid", f"{key}: may not be null", {key: "required"})
        def change() -> None:
            for key, value in changes.items():
                setattr(pool, key, value)
        return jsonify(_save(s, pool, "pool.update", change, changes.get("name")))


@bp.delete("/pools/<id:pool_id>")
@require(Role.admin)
@endpoint("Delete a pool no customer calls home (409: the default pool, or how many customers it holds)",
          response=Deleted)
def delete_pool(pool_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        pool = visible_pool(s, pool_id)
        if pool.is_default:
            raise ApiError(409, "conflict", "the default pool stays")
        used = s.scalar(select(func.count()).where(Customer.pool_id == pool.id)) or 0
        if used:
            raise ApiError(409, "conflict", f"the pool {pool.name} is the pool of {used} customers: move them first")
        s.execute(update(PoolMove).where(PoolMove.pool_id == pool.id).values(pool_id=None))
        s.delete(pool)
        audit(s, "pool.delete", f"pool:{pool_id}", name=pool.name)
        return jsonify({"id": pool_id, "deleted": True})


# -- return reasons (9.9.5 退回原因) -------------------------------------------------------------------------
def _reason(s: Session, reason_id: int) -> PoolReturnReason:
    reason = s.get(PoolReturnReason, reason_id)
    if reason is None or not in_scope(reason.corp_id):
        raise ApiError(404, "not_found", f"no return reason {reason_id}")
    return reason


def _reason_json(r: PoolReturnReason) -> dict[str, Any]:
    return {"id": r.id, "corp_id": r.corp_id, "name": r.name}


def _named(s: Session, reason: PoolReturnReason, action: str, change: Callable[[], None], name: str) -> Any:
    if not _unique(s, change):
        raise ApiError(409, "conflict", f"the return reason {name} exists", {"name": "taken"})
    audit(s, action, f"pool_return_reason:{reason.id}", name=reason.name)
    return _reason_json(reason)


@bp.get("/pool-return-reasons")
@require(Role.member)
@endpoint("The corp's return reasons (退回原因), oldest first", query=CorpQuery, response=Items[ReasonOut])
def list_reasons(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        items = [_reason_json(r) for r in s.scalars(select(PoolReturnReason).where(
            PoolReturnReason.corp_id == corp_id).order_by(PoolReturnReason.id))]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/pool-return-reasons")
@require(Role.admin)
@endpoint("Add a return reason (409: it exists)", body=ReasonBody, response=ReasonOut, status=201)
def create_reason(body: ReasonBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        reason = PoolReturnReason(corp_id=corp_id, name=body.name)
        return jsonify(_named(s, reason, "pool_return_reason.create", lambda: s.add(reason), body.name)), 201


@bp.patch("/pool-return-reasons/<id:reason_id>")
@require(Role.admin)
@endpoint("Rename a return reason (the history keeps the name it was given with)", body=ReasonPatch,
          response=ReasonOut)
def update_reason(reason_id: int, body: ReasonPatch) -> Any:
    with runtime().WriteSession.begin() as s:
        reason = _reason(s, reason_id)
        return jsonify(_named(s, reason, "pool_return_reason.update", lambda: setattr(reason, "name", body.name),
                              body.name))


@bp.delete("/pool-return-reasons/<id:reason_id>")
@require(Role.admin)
@endpoint("Delete a return reason no return used (409 says how many did: a reason in use is kept)",
          response=Deleted)
def delete_reason(reason_id: int) -> Any:
    with runtime().WriteSession.begin() as s:
        reason = _reason(s, reason_id)
        used = s.scalar(select(func.count()).where(PoolMove.reason_id == reason.id)) or 0
        if used:
            raise ApiError(409, "conflict", f"the return reason {reason.name} was given {used} times: it is kept")
        s.delete(reason)
        audit(s, "pool_return_reason.delete", f"pool_return_reason:{reason_id}", name=reason.name)
        return jsonify({"id": reason_id, "deleted": True})


# -- settings (001 资源池 参数设置) ----------------------------------------------------------------------------
@bp.get("/pool-settings")
@require(Role.admin)
@endpoint("The corp's pool settings: the per-member claim limit", query=CorpQuery, response=PoolSettingsOut)
def get_pool_settings(query: CorpQuery) -> Any:
    with runtime().Session() as s:
        corp_id, _ = corp_and_app(s, query.corp_id)
        limit = s.scalar(select(CorpSettings.pool_claim_limit).where(CorpSettings.corp_id == corp_id))
    return jsonify({"corp_id": corp_id, "claim_limit": limit})


@bp.put("/pool-settings")
@require(Role.admin)
@endpoint("Set the per-member claim limit (customers held; null: none)", body=PoolSettingsBody,
          response=PoolSettingsOut)
def put_pool_settings(body: PoolSettingsBody) -> Any:
    with runtime().WriteSession.begin() as s:
        corp_id, _ = corp_and_app(s, body.corp_id)
        settings, _ = get_or_create(s, CorpSettings, {"corp_id": corp_id})
        settings.pool_claim_limit = body.claim_limit
        audit(s, "pool_settings.update", f"corp:{corp_id}", claim_limit=body.claim_limit)
    return jsonify({"corp_id": corp_id, "claim_limit": body.claim_limit})
