"""Smart-tag runs over many customers (handlers/smart_tags.py does one event's customers):

- `smart_tag_run(job_id)`: a rule's retroactive run (新建 or changed conditions: every customer, or for a group
  rule every customer group, it matches and has not tagged yet) and/or its re-tagging (changed tags: its
  existing hits get the new tags; old ones stay), as a job with progress (`GET /api/v1/jobs/<id>`);
- `smart_tags_daily_job`: hourly from `rq cron jobs.cron`; each corp with an enabled time-based rule (silence,
  birthday, age; a group's recent joins) runs those rules once per corp-local day (claimed,
  models/daily_claim.py), so the conditions that come true as days pass are seen without scanning every
  customer every minute.

Both walk customers in id order in batches, one short write transaction each, and enqueue the batch's mark_tag
rows after its commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from handlers.smart_tags import count_unmatched, matching, rules_for, scope_for, subject_of, tag_matches
from models.daily_claim import claim_day
from jobs.progress import Progress, fail_run, open_run, tracked
from jobs.queue import enqueue, enqueue_outbox, job, on_dead
from jobs.runtime import Runtime, current
from models import JobRun, SmartTagRule, SmartTagScan
from models.db import utcnow
from rules.pool_days import local_day

log = logging.getLogger(__name__)
KIND = "smart_tag_run"
BATCH = 500
STALE_RUN = dt.timedelta(hours=1)
"""A daily run's claim left unfinished this long (its worker died) is taken over by a later tick."""


def request_run(s: Session, rule: SmartTagRule, requested_by: str, sweep: bool, retag: list[int] | None) -> int:
    """Open the run (in the caller's transaction); the caller enqueues `smart_tag_run` after its commit."""
    return open_run(s, KIND, rule.corp_id, requested_by, rule_id=rule.id, sweep=sweep, retag=retag).id


def start_run(job_id: int) -> None:
    enqueue("smart_tag_run", job_id)


def sweep_rule(runtime: Runtime, rule_id: int, now: dt.datetime, progress: Progress | None = None) -> int:
    """Tag every customer (or group) the rule matches and has not tagged yet; how many it tagged."""
    tagged, after = 0, 0
    if progress is not None:
        with runtime.Session() as s:
            rule = s.get(SmartTagRule, rule_id)
            progress.total = (progress.total or 0) + (count_unmatched(scope_for(s, rule.corp_id, now), rule)
                                                      if rule is not None else 0)
        progress.flush()
    while True:
        with runtime.WriteSession.begin() as s:
            rule = s.get(SmartTagRule, rule_id)
            if rule is None or not rule.enabled:
                break
            ids = matching(scope_for(s, rule.corp_id, now), rule, after_id=after, limit=BATCH)
            if not ids:
                break
            rows = [(o.id, o.queue) for o in tag_matches(s, rule, ids, now)]
        enqueue_outbox(rows)
        tagged, after = tagged + len(ids), ids[-1]
        if progress is not None:
            progress.advance(len(ids))
    return tagged


def retag_hits(runtime: Runtime, rule_id: int, tag_pks: list[int], progress: Progress) -> int:
    """Add `tag_pks` to every customer (or group) the rule has tagged (its hits still live in the corp)."""
    after = 0
    with runtime.Session() as s:
        rule = s.get(SmartTagRule, rule_id)
        if rule is None:
            return 0
        subject = subject_of(rule)
    key, model = subject.hit_key, subject.model
    hits = select(key).join(model, model.id == key).where(subject.hit.rule_id == rule_id, subject.live())
    with runtime.Session() as s:
        progress.total = (progress.total or 0) + (s.scalar(hits.with_only_columns(func.count())) or 0)
    progress.flush()
    while True:
        with runtime.WriteSession.begin() as s:
            rule = s.get(SmartTagRule, rule_id)
            ids = list(s.scalars(hits.where(key > after).order_by(key).limit(BATCH))) if rule else []
            if not ids:
                break
            rows = [(o.id, o.queue) for o in subject.tag(s, rule, ids, tag_pks)]
        enqueue_outbox(rows)
        after = ids[-1]
        progress.advance(len(ids))
    return progress.done


@job("smart_tag_run", queue="maintenance")
def smart_tag_run(job_id: int) -> str:
    runtime = current()
    with runtime.Session() as s:
        run = s.get(JobRun, job_id)
        if run is None or run.finished:
            return "skipped"
        params: dict[str, Any] = dict(run.params)
    with tracked(job_id) as progress:
        rule_id, now = int(params["rule_id"]), utcnow()
        retagged = retag_hits(runtime, rule_id, list(params["retag"]), progress) if params.get("retag") else 0
        swept = sweep_rule(runtime, rule_id, now, progress) if params.get("sweep") else 0
        progress.result = {"rule_id": rule_id, "tagged": swept, "retagged": retagged}
    return "done"


@on_dead("smart_tag_run")
def _failed(args: list[Any], error: str) -> None:
    fail_run(args[0], error)


def daily_corp(corp_id: str, now: dt.datetime | None = None, runtime: Runtime | None = None) -> int | None:
    """The corp's time-based rules for its local day at `now`: how many customers they tagged, or None when
    another worker has (or had) the day."""
    runtime = runtime or current()
    now = (now or utcnow()).replace(microsecond=0)
    with runtime.Session() as s:
        day = local_day(now, scope_for(s, corp_id, now).zone)
        rules = [r.id for r in rules_for(s, corp_id, "daily")]
    claim = claim_day(runtime, SmartTagScan, corp_id, day, now, STALE_RUN)
    if claim is None:
        return None
    tagged = sum(sweep_rule(runtime, rule_id, now) for rule_id in rules)
    with runtime.WriteSession.begin() as s:
        s.execute(update(SmartTagScan).where(SmartTagScan.id == claim).values(finished_at=utcnow(), tagged=tagged))
    log.info("smart tags' daily run of %s for %s: %d tagged", corp_id, day, tagged)
    return tagged


@job("smart_tags_daily", queue="maintenance")
def smart_tags_daily_job(now: dt.datetime | None = None) -> int:
    """Hourly from `rq cron jobs.cron`: every corp with an enabled time-based rule whose local day has no run
    yet; how many corps it ran."""
    runtime = current()
    with runtime.Session() as s:
        corps = list(s.scalars(select(SmartTagRule.corp_id).where(
            SmartTagRule.enabled.is_(True), SmartTagRule.triggers.contains(",daily,")).distinct()))
    return sum(1 for corp_id in corps if daily_corp(corp_id, now, runtime) is not None)
