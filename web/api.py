"""The admin HTTP API, `/api/v1`: events and their replay, dead letters, apps, OpenAPI; and the paging and
argument helpers the other `/api/v1` blueprints share (customers live in `web/api_customers.py`)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from jobs.events import replay_event
from jobs.queue import UnknownJob, replay_dead_letter
from jobs.runtime import Runtime
from models import App, Corp, DeadLetter, Inbox, InboxStatus, Role
from models.corp import save_app
from rules.apps import app_errors
from web import errors, openapi
from web.auth import audit, require
from web.callback import apps as app_cache
from web.errors import ApiError
from web.scope import check_corp, in_scope

T = TypeVar("T")

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_PAGE_SIZE = 200


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ApiError(400, "bad_request", f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _time_arg(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "bad_request", f"{name} must be an ISO 8601 time, e.g. 2026-11-23T08:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _enum_filter(query: Select, name: str, column: Any, choices: type[enum.Enum]) -> Select:
    """`query` narrowed to `column == ?name=`, when given; a value outside `choices` is a 400."""
    value = request.args.get(name)
    if not value:
        return query
    if value not in choices.__members__:
        raise ApiError(400, "bad_request", f"{name} must be one of {', '.join(choices.__members__)}")
    return query.where(column == value)


def _time_filter(query: Select, column: Any) -> Select:
    """`query` narrowed to `?since=` ≤ column < `?until=` (ISO 8601), each when given."""
    since, until = _time_arg("since"), _time_arg("until")
    if since and until and since > until:
        raise ApiError(400, "bad_request", "since must not be after until")
    if since:
        query = query.where(column >= since)
    if until:
        query = query.where(column < until)
    return query


def _page(query: Select, render: Callable[[Any], dict[str, Any]]) -> Any:
    """One page of `query` as `{"items", "page", "page_size", "total"}`, each row through `render`."""
    return _page_rows(query, lambda s, rows: [render(r) for r in rows])


def _page_rows(query: Select, render_page: Callable[[Session, list[Any]], list[dict[str, Any]]]) -> Any:
    """`_page` for renderers that load what a page needs in a few queries (`render_page(session, rows)`)
    instead of one or more per row."""
    page = _int_arg("page", 1, 1, 1_000_000)
    size = _int_arg("page_size", 50, 1, MAX_PAGE_SIZE)
    with _runtime().Session() as s:
        total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = list(s.scalars(query.limit(size).offset((page - 1) * size)).all())
        items = render_page(s, rows)
    return jsonify({"items": items, "page": page, "page_size": size, "total": total})


def _like(keyword: str) -> str:
    """A LIKE pattern (escape character `\\`) matching `keyword` anywhere, its % and _ taken literally."""
    return "%" + keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "send a JSON object")
    return body


def _all_corps() -> None:
    """Dead letters are jobs, not a corp's rows: only a token for every corp may see or replay them."""
    if g.principal.corp_id:
        raise ApiError(403, "forbidden", "dead letters span corps: use a token not limited to one corp")


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
def list_events() -> Any:
    query = select(Inbox).order_by(Inbox.id.desc())
    if g.principal.corp_id:
        query = query.where(Inbox.corp_id == g.principal.corp_id)
    query = _enum_filter(query, "status", Inbox.status, InboxStatus)
    if request.args.get("routing_key"):
        query = query.where(Inbox.routing_key == request.args["routing_key"])
    query = _time_filter(query, Inbox.received_at)
    return _page(query, Inbox.public)


@bp.get("/events/<int:inbox_id>")
@require(Role.admin)
def get_event(inbox_id: int) -> Any:
    with _runtime().Session() as s:
        row = s.get(Inbox, inbox_id)
        if row is None or not in_scope(row.corp_id):
            raise ApiError(404, "not_found", f"no event {inbox_id}")
        return jsonify({**row.public(), "raw_xml": row.raw_xml})


@bp.post("/events/<int:inbox_id>/replay")
@require(Role.admin)
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
def list_dead_letters() -> Any:
    _all_corps()
    query = select(DeadLetter).order_by(DeadLetter.id.desc())
    if request.args.get("job"):
        query = query.where(DeadLetter.job == request.args["job"])
    replayed = request.args.get("replayed")
    if replayed not in (None, "true", "false"):
        raise ApiError(400, "bad_request", "replayed must be true or false")
    if replayed:
        flag = DeadLetter.replayed_at.is_not(None)
        query = query.where(flag if request.args["replayed"] == "true" else ~flag)
    return _page(query, DeadLetter.public)


@bp.post("/dead-letters/<int:dead_letter_id>/replay")
@require(Role.admin)
def replay_dead(dead_letter_id: int) -> Any:
    _all_corps()
    with _runtime().WriteSession.begin() as s:
        if s.get(DeadLetter, dead_letter_id) is None:
            raise ApiError(404, "not_found", f"no dead letter {dead_letter_id}")
    try:
        replay_dead_letter(dead_letter_id)
    except UnknownJob as exc:
        raise ApiError(409, "unknown_job", str(exc)) from None
    with _runtime().WriteSession.begin() as s:
        audit(s, "dead_letter.replay", f"dead_letter:{dead_letter_id}")
    with _runtime().Session() as s:
        return jsonify(s.get(DeadLetter, dead_letter_id).public()), 202


# -- apps ----------------------------------------------------------------------------------------------
@bp.get("/apps")
@require(Role.super_admin)
def list_apps() -> Any:
    query = select(App).order_by(App.id)
    if g.principal.corp_id:
        query = query.where(App.corp.has(Corp.corp_id == g.principal.corp_id))
    return _page(query, App.public)


@bp.post("/apps")
@require(Role.super_admin)
def create_app_config() -> Any:
    fields = _json_object()
    problems = app_errors(fields)
    if problems:
        raise ApiError(422, "invalid", "the app definition has errors", problems)
    check_corp(fields["corp_id"])
    with _runtime().WriteSession.begin() as s:
        if s.scalar(select(App.id).where(App.slug == fields["slug"])) is not None:
            raise ApiError(409, "conflict", f"app {fields['slug']!r} exists")
        app = save_app(s, fields)
        audit(s, "app.create", f"app:{app.slug}", corp_id=fields["corp_id"], kind=app.kind)
        body = app.public()
    app_cache.clear()
    return jsonify(body), 201


@bp.patch("/apps/<slug>")
@require(Role.super_admin)
def update_app_config(slug: str) -> Any:
    """Change an app's secret or agent id (a new secret clears broken credentials); other fields stay."""
    changes = _json_object()
    unknown = set(changes) - {"secret", "agent_id"}
    if unknown:
        raise ApiError(422, "invalid", "only secret and agent_id can be changed",
                       {field: "cannot be changed here" for field in sorted(unknown)})
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
        body = app.public()
    app_cache.clear()
    _runtime().forget_apps()
    return jsonify(body)


@bp.get("/openapi.json")
def openapi_document() -> Any:
    return jsonify(openapi.document())
