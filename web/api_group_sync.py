"""The customer-group sync's admin API: start one (`POST /groups/sync`, 202 with its job) and see, per
corp, when the last one finished and what it changed (`GET /groups/sync`). The work is jobs/group_sync.py."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import select

from jobs.group_sync import KIND, request_groups_sync
from jobs.queue import enqueue_outbox
from jobs.runtime import Runtime
from models import Corp, JobRun, JobState, Role
from web import errors
from web.api_jobs import public, started
from web.auth import audit, require
from web.endpoint import endpoint
from web.schemas.common import CorpQuery, Items
from web.schemas.group_sync import GroupSyncBody, GroupSyncOut
from web.schemas.jobs import Started
from web.scope import check_corp, corp_and_app

bp = Blueprint("api_group_sync", __name__, url_prefix="/api/v1")
errors.register(bp)


def _runtime() -> Runtime:
    return current_app.extensions["scrm"]


@bp.post("/groups/sync")
@require(Role.admin)
@endpoint("Full sync of customer groups from WeCom (202: a job; groupchat/list, then groupchat/get per group)",
          body=GroupSyncBody, body_optional=True, response=Started, status=202)
def start_group_sync(body: GroupSyncBody) -> Any:
    """A sync already waiting for a worker is joined, not started twice."""
    with _runtime().WriteSession.begin() as s:
        corp_id, app_pk = corp_and_app(s, body.corp_id)
        row = request_groups_sync(s, corp_id, app_pk, f"token:{g.principal.name}")
        audit(s, "groups.sync", f"corp:{corp_id}", outbox_id=row.id, job_id=row.args["job_id"])
        outbox_id, job_id = row.id, row.args["job_id"]
        pending = [(row.id, row.queue)] if row.status == "pending" else []
    enqueue_outbox(pending)
    return started(job_id, outbox_id=outbox_id, syncing=True)


@bp.get("/groups/sync")
@require(Role.admin)
@endpoint("When each corp's groups were last synced and what that changed (最近更新：…，同步 X 条信息)",
          query=CorpQuery, response=Items[GroupSyncOut])
def group_sync_status(query: CorpQuery) -> Any:
    """One item per corp the token sees (`corp_id` narrows it): the last finished sync and any running."""
    corp_ids = [g.principal.corp_id] if g.principal.corp_id else None
    if query.corp_id:
        check_corp(query.corp_id)
        corp_ids = [query.corp_id]
    zone = ZoneInfo(_runtime().settings.timezone)
    with _runtime().Session() as s:
        if corp_ids is None:
            corp_ids = list(s.scalars(select(Corp.corp_id).order_by(Corp.corp_id)))
        items = [_status(s, corp_id, zone) for corp_id in corp_ids]
    return jsonify({"items": items, "total": len(items)})


def _status(s: Any, corp_id: str, zone: ZoneInfo) -> dict[str, Any]:
    runs = select(JobRun).where(JobRun.kind == KIND, JobRun.corp_id == corp_id).order_by(JobRun.id.desc()).limit(1)
    last = s.scalar(runs.where(JobRun.state == JobState.done.value))
    running = s.scalar(runs.where(JobRun.state.in_([JobState.queued.value, JobState.running.value])))
    result = (last.result or {}) if last else {}
    changed, rows = result.get("groups_changed"), result.get("rows_written")
    when = last.finished_at if last else None
    text = (f"最近更新：{when.astimezone(zone):%Y-%m-%d %H:%M}，同步 {changed or 0} 条信息" if when else "尚未同步")
    return {"corp_id": corp_id, "synced_at": when.isoformat() if when else None, "groups_changed": changed,
            "rows_written": rows, "text": text,
            "last": public(last) if last else None, "running": public(running) if running else None}
