"""Bulk tag/untag (manual 4.6.1): one mark_tag per selected follow relation, each with its own result.

WeCom's mark_tag takes one member's customer at a time, so a bulk tagging is a loop inside one job run
(`jobs/progress.py`): a refusal WeCom gives one relation (84061 not a follower, 40068 gone tag, …) is that
item's result and the loop goes on; a retryable failure (busy, unreachable) stops the run for the job's
retry, which repeats the calls already made harmlessly (mark_tag is idempotent).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.tags import mark_follow_tags
from jobs.outbound import EffectContext, effect
from jobs.progress import tracked
from models import FollowRelation, FollowStatus
from wecom.client import WeComError


@effect("bulk_mark_tags")
def bulk_mark_tags(ctx: EffectContext, items: list[dict[str, Any]], add: list[str], remove: list[str],
                   actor: str, job_id: int | None = None) -> dict[str, Any] | None:
    """`items`: {customer_id, follow_id, userid, external_userid} (a customer with no follower to tag is an
    item with `skipped`). The FollowTag rows of the relations WeCom tagged are written once, at the end."""
    results: list[dict[str, Any]] = []
    with tracked(job_id) as progress:
        for item in progress.each(items):
            result = {"customer_id": item["customer_id"], "userid": item.get("userid")}
            if item.get("skipped"):
                results.append({**result, "status": "skipped", "error": item["skipped"]})
                continue
            try:
                ctx.client.post("externalcontact/mark_tag", data={
                    "userid": item["userid"], "external_userid": item["external_userid"],
                    "add_tag": list(add), "remove_tag": list(remove)})
            except WeComError as exc:
                if exc.retryable:
                    raise
                progress.error(f"customer {item['customer_id']}/{item['userid']}: {exc.errcode}")
                results.append({**result, "status": "failed", "errcode": exc.errcode, "error": exc.errmsg})
                continue
            results.append({**result, "status": "done", "follow_id": item["follow_id"]})

        def write(s: Session) -> dict[str, Any]:
            for result in results:
                if result["status"] == "done":
                    follow = s.get(FollowRelation, result.pop("follow_id"))
                    if follow is not None:
                        mark_follow_tags(s, follow, add, remove, actor)
            counts = {status: sum(r["status"] == status for r in results) for status in ("done", "failed", "skipped")}
            return {**counts, "items": results}

        progress.result = ctx.finish(write)
    return progress.result


def bulk_items(s: Session, customers: list[Any], userid: str | None) -> list[dict[str, Any]]:
    """One item per active follow relation of each customer (only `userid`'s when given); a customer
    without one is a skipped item, so every selected customer has a result."""
    follows: dict[int, list[FollowRelation]] = {}
    query = select(FollowRelation).where(FollowRelation.customer_id.in_([c.id for c in customers]),
                                         FollowRelation.status == FollowStatus.active.value).order_by(FollowRelation.id)
    if userid:
        query = query.where(FollowRelation.userid == userid)
    for follow in s.scalars(query):
        follows.setdefault(follow.customer_id, []).append(follow)
    items: list[dict[str, Any]] = []
    for customer in customers:
        rows = follows.get(customer.id)
        if not rows:
            items.append({"customer_id": customer.id, "userid": userid, "skipped": "no follower to tag"})
        items += [{"customer_id": customer.id, "follow_id": f.id, "userid": f.userid,
                   "external_userid": customer.external_userid} for f in rows or []]
    return items
