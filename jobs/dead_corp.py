"""Which corp a dead-lettered job worked for, read from its args, so the dead letter can carry corp_id and
a corp-bound token lists its own corp's (web/api.py). A job whose args name no corp's row (a periodic
tick, a sweep) has none: only a token for every corp sees it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import BulkAction, Inbox, JobRun, MassMessage, Outbox

# job → the model whose row its first arg names
ROW_OF: dict[str, Any] = {
    "process_event": Inbox,
    "deliver_outbox": Outbox,
    "export_customers": JobRun,
    "import_leads": JobRun,
    "smart_tag_run": JobRun,
    "mass_results": JobRun,
    "mass_send": MassMessage,
    "run_bulk_action": BulkAction,
}


def corp_of(session: Session, job: str, args: list[Any]) -> str | None:
    """The corp id `job` with `args` worked for, or None when its args name none (or its row is gone)."""
    if not args:
        return None
    if job == "process_batch":  # (corp_id, routing_key)
        return args[0] if isinstance(args[0], str) else None
    if job == "deliver_batch":  # (queue, outbox ids): one corp's rows, else no one corp
        corps = set(session.scalars(select(Outbox.corp_id).where(Outbox.id.in_(list(args[1] or [])))))
        return corps.pop() if len(corps) == 1 else None
    model = ROW_OF.get(job)
    if model is None or not isinstance(args[0], int):
        return None
    return session.scalar(select(model.corp_id).where(model.id == args[0]))
