"""The admin HTTP API, `/api/v1`: events and their replay, dead letters, apps, OpenAPI; and the paging and
filter helpers the other `/api/v1` blueprints share (customers live in `web/api_customers.py`). Requests
and answers are typed by the models in web/schemas/ through `@endpoint` (web/endpoint.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from jobs.events import replay_event
from jobs.queue import UnknownJob, replay_dead_letter
from jobs.runtime import Runtime
from models import App, Corp, DeadLetter, Inbox, Role
from models.corp import save_app
from rules.apps import AppChange, AppDefinition, app_errors
from web import errors, openapi
from web.auth import audit, require
from web.callback import apps as app_cache
from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.admin import AppOut, DeadLetterOut, DeadLetterQuery, EventDetail, EventOut, EventQuery, TimeRange
from web.schemas.common import Page, PageQuery
from web.scope import check_corp, in_scope

T = TypeVar("T")

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register(bp)


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


def time_filter(query: Select, column: Any, window: TimeRange) -> Select:
    """`query` narrowed to `window.since` ≤ column < `window.until`, each when given."""
    if window.since and window.until and window.since > window.until:
        raise ApiError(400, "bad_request", "since must not be after until")
    if window.since:
        query = query.where(column >= window.since)
    if window.until:
        query = query.where(column < window.until)
    return query


def page(query: Select, render: Callable[[Any], dict[str, Any]], paging: PageQuery) -> Any:
    """One page of `query` as `{"items", "page", "page_size", "total"}`, each row through `render`."""
    return page_rows(query, lambda s, rows: [render(r) for r in rows], paging)


def page_rows(query: Select, render_page: Callable[[Session, list[Any]], list[dict[str, Any]]],
              paging: PageQuery) -> Any:
    """`page` for renderers that load what a page needs in a few queries (`render_page(session, rows)`)
    instead of one or more per row."""
    with _runtime().Session() as s:
        total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery())
                         .execution_options(**query.get_execution_options()))
        rows = list(s.scalars(query.limit(paging.page_size).offset((paging.page - 1) * paging.page_size)).all())
        items = render_page(s, rows)
    return jsonify({"items": items, "page": paging.page, "page_size": paging.page_size, "total": total})


def _like(keyword: str) -> str:
    """A LIKE pattern (escape character `\\`) matching `keyword` anywhere, its % and _ taken literally."""
    return "%" + keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"




def _dead_letter_scope(query: Any) -> Any:
    """A corp-bound token sees its corp's dead letters only (corp_id from the job's args, jobs/dead_corp.py);
    those of no one corp (periodic ticks, sweeps) only a token for every corp sees."""
    return query.where(DeadLetter.corp_id == g.principal.corp_id) if g.principal.corp_id else query


def _live(s: Session, model: type[T], pk: int, what: str) -> T:
    """Row `pk` of `model` if it is not soft-deleted and the token may see its corp, else a 404 naming
    `what` (another corp's row is answered as absent, not forbidden: its existence is not ours to tell)."""
    row: Any = s.get(model, pk)  # a model with corp_id and deleted_at
    if row is None or row.deleted_at is not None or not in_scope(row.corp_id):
        raise ApiError(404, "not_found", f"no {what} {pk}")
    return row


# -- events -------------------------------------------------------------------------------------------
@bp.get("/events")
@require(Role.admin)
@endpoint("List stored callbacks", query=EventQuery, response=Page[EventOut])
def list_events(query: EventQuery) -> Any:
    rows = select(Inbox).order_by(Inbox.id.desc())
    if g.principal.corp_id:
        rows = rows.where(Inbox.corp_id == g.principal.corp_id)
    if query.status:
        rows = rows.where(Inbox.status == query.status)
    if query.routing_key:
        rows = rows.where(Inbox.routing_key == query.routing_key)
    rows = time_filter(rows, Inbox.received_at, query)
    return page(rows, Inbox.public, query)


@bp.get("/events/<id:inbox_id>")
@require(Role.admin)
@endpoint("One stored callback with its decrypted XML", response=EventDetail)
def get_event(inbox_id: int) -> Any:
    with _runtime().Session() as s:
        row = s.get(Inbox, inbox_id)
        if row is None or not in_scope(row.corp_id):
            raise ApiError(404, "not_found", f"no event {inbox_id}")
        return jsonify({**row.public(), "raw_xml": row.raw_xml})


@bp.post("/events/<id:inbox_id>/replay")
@require(Role.admin)
@endpoint("Process a stored callback again", response=EventOut, status=202)
def replay(inbox_id: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        row = s.get(Inbox, inbox_id)
        if row is None or not in_scope(row.corp_id):
            raise ApiError(404, "not_found", f"no event {inbox_id}")
        audit(s, "event.replay", f"inbox:{inbox_id}")
    replay_event(inbox_id)
    with _runtime().Session() as s:
        return jsonify(s.get(Inbox, inbox_id).public()), 202


# -- dead letters --------------------------------------------------------------------------------------
@bp.get("/dead-letters")
@require(Role.admin)
@endpoint("Jobs that exhausted their retries", query=DeadLetterQuery, response=Page[DeadLetterOut])
def list_dead_letters(query: DeadLetterQuery) -> Any:
    rows = _dead_letter_scope(select(DeadLetter).order_by(DeadLetter.id.desc()))
    if query.job:
        rows = rows.where(DeadLetter.job == query.job)
    if query.replayed:
        flag = DeadLetter.replayed_at.is_not(None)
        rows = rows.where(flag if query.replayed == "true" else ~flag)
    return page(rows, DeadLetter.public, query)


@bp.post("/dead-letters/<id:dead_letter_id>/replay")
@require(Role.admin)
@endpoint("Run a dead-lettered job again", response=DeadLetterOut, status=202)
def replay_dead(dead_letter_id: int) -> Any:
    with _runtime().WriteSession.begin() as s:
        corp = s.execute(_dead_letter_scope(select(DeadLetter.corp_id).where(DeadLetter.id == dead_letter_id))).first()
        if corp is None:
            raise ApiError(404, "not_found", f"no dead letter {dead_letter_id}")
    try:
        replay_dead_letter(dead_letter_id)
    except UnknownJob as exc:
        raise ApiError(409, "unknown_job", str(exc)) from None
    with _runtime().WriteSession.begin() as s:
        audit(s, "dead_letter.replay", f"dead_letter:{dead_letter_id}", corp_id=corp.corp_id)
    with _runtime().Session() as s:
        return jsonify(s.get(DeadLetter, dead_letter_id).public()), 202


# -- apps ----------------------------------------------------------------------------------------------
@bp.get("/apps")
@require(Role.super_admin)
@endpoint("Configured WeCom apps (credentials never shown)", query=PageQuery, response=Page[AppOut])
def list_apps(query: PageQuery) -> Any:
    rows = select(App).order_by(App.id)
    if g.principal.corp_id:
        rows = rows.where(App.corp.has(Corp.corp_id == g.principal.corp_id))
    return page(rows, App.public, query)


@bp.post("/apps")
@require(Role.super_admin)
@endpoint("Add a WeCom app", body=AppDefinition, response=AppOut, status=201)
def create_app_config(body: AppDefinition) -> Any:
    fields = body.model_dump()
    check_corp(body.corp_id)
    with _runtime().WriteSession.begin() as s:
        if s.scalar(select(App.id).where(App.slug == body.slug)) is not None:
            raise ApiError(409, "conflict", f"app {body.slug!r} exists")
        app = save_app(s, fields)
        audit(s, "app.create", f"app:{app.slug}", corp_id=body.corp_id, kind=app.kind)
        answer = app.public()
    app_cache.clear()
    return jsonify(answer), 201


@bp.patch("/apps/<slug>")
@require(Role.super_admin)
@endpoint("Change an app's secret or agent id (a new secret clears broken credentials)", body=AppChange,
          response=AppOut)
def update_app_config(slug: str, body: AppChange) -> Any:
    """Change an app's secret or agent id; its other fields stay."""
    changes = body.model_dump(exclude_none=True)
    with _runtime().WriteSession.begin() as s:
        app = s.scalar(select(App).where(App.slug == slug))
        if app is None or not in_scope(app.corp.corp_id):  # another corp's app is not there for this token
            raise ApiError(404, "not_found", f"no app {slug!r}")
        fields = {"slug": app.slug, "corp_id": app.corp.corp_id, "kind": app.kind, "token": app.token,
                  "aes_key": app.aes_key, "secret": app.secret, "agent_id": app.agent_id, **changes}
        problems = app_errors(fields)
        if problems:
            raise ApiError(422, "invalid", "the app definition has errors", problems)
        app = save_app(s, fields)
        audit(s, "app.update", f"app:{app.slug}", fields=sorted(changes))
        answer = app.public()
    app_cache.clear()
    _runtime().forget_apps()
    return jsonify(answer)


@bp.get("/openapi.json")
@endpoint("This document", response=dict[str, Any])
def openapi_document() -> Any:
    return jsonify(openapi.document(current_app))
