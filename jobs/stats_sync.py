"""WeCom's own daily figures into the service's tables (models/stats.py), for the statistics API: once a corp-
local day, after SYNC_AFTER, the day before's 联系客户统计 of every active member (externalcontact/
get_user_behavior_data, one member a call: several userids would be one total) and 群聊数据统计 by owner
(externalcontact/groupchat/statistic, 100 owners a call, paged by 1000), through the corp's customer-contact app.

Exactly once with several workers: the first to insert the corp's `StatsSync` row for the day syncs, the
others skip; a claim left unfinished STALE_SYNC (a worker that died, or WeCom failing: the error is kept on the
claim) is taken over by a later tick, which writes the day again (its rows are replaced, never doubled).
WeCom's days are China days (00:00 Beijing time): the day asked for is the corp's local yesterday, sent as its
Beijing midnight, and stored under the date WeCom's `stat_time` names."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update

from handlers.bot import corp_zone
from jobs.queue import job
from jobs.runtime import Runtime, current
from models import App, Corp, Staff
from models.daily_claim import claim_day
from models.db import utcnow
from models.stats import BehaviorDay, GroupChatDay, StatsSync
from rules.calendar import local_midnight
from wecom.client import WeComClient, WeComError

log = logging.getLogger(__name__)

SYNC_AFTER = dt.time(6, 0)
"""Local time after which the day before is synced: WeCom fills its figures in during the night."""
STALE_SYNC = dt.timedelta(hours=1)
CHINA = ZoneInfo("Asia/Shanghai")
OWNERS_PER_CALL = 100
PAGE = 1000
APP_PREFERENCE = {"contact": 0, "agent": 1, "kf": 2}  # a 客户联系 app, else the self-built app (web/scope.py)
BEHAVIOR = ("chat_cnt", "message_cnt", "negative_feedback_cnt", "new_apply_cnt", "new_contact_cnt")
GROUP = ("new_chat_cnt", "chat_total", "chat_has_msg", "new_member_cnt", "member_total", "member_has_msg",
         "msg_total", "migrate_trainee_chat_cnt")


def _behavior(client: WeComClient, corp_id: str, members: list[str], stamp: int) -> list[BehaviorDay]:
    rows = []
    for userid in members:
        answer = client.post("externalcontact/get_user_behavior_data",
                             data={"userid": [userid], "start_time": stamp, "end_time": stamp})
        for item in answer.get("behavior_data", []):
            rows.append(BehaviorDay(corp_id=corp_id, userid=userid,
                                    day=dt.datetime.fromtimestamp(int(item["stat_time"]), CHINA).date(),
                                    reply_percentage=item.get("reply_percentage"),
                                    avg_reply_time=item.get("avg_reply_time"),
                                    **{f: int(item.get(f, 0)) for f in BEHAVIOR}))
    return rows


def _groups(client: WeComClient, corp_id: str, owners: list[str], day: dt.date, stamp: int) -> list[GroupChatDay]:
    rows: list[GroupChatDay] = []
    for n in range(0, len(owners), OWNERS_PER_CALL):
        offset = 0
        while True:
            answer = client.post("externalcontact/groupchat/statistic", data={
                "day_begin_time": stamp, "day_end_time": stamp, "owner_filter": {
                    "userid_list": owners[n:n + OWNERS_PER_CALL]}, "offset": offset, "limit": PAGE})
            items = answer.get("items", [])
            rows.extend(GroupChatDay(corp_id=corp_id, owner=item["owner"], day=day,
                                     **{f: int(item["data"].get(f, 0)) for f in GROUP}) for item in items)
            offset = int(answer.get("next_offset", offset + len(items)))
            if not items or offset >= int(answer.get("total", 0)):
                break
    return rows


def sync_corp(corp_id: str, now: dt.datetime | None = None, runtime: Runtime | None = None) -> dict[str, Any] | None:
    """Sync the corp's local yesterday if it is past SYNC_AFTER and this worker claims it: what it wrote, or
    None (too early, no app, or another worker has or had it). A WeCom error is kept on the claim and raised."""
    runtime = runtime or current()
    now = (now or utcnow()).replace(microsecond=0)
    with runtime.Session() as s:
        zone = corp_zone(s, corp_id)
        apps = s.execute(select(App.id, App.kind).join(Corp).where(Corp.corp_id == corp_id)).all()
        members = sorted(s.scalars(select(Staff.userid).where(Staff.corp_id == corp_id, Staff.status == "active")))
    local = now.astimezone(zone)
    if not apps or local.time() < SYNC_AFTER:
        return None
    day = local.date() - dt.timedelta(days=1)
    claim = claim_day(runtime, StatsSync, corp_id, day, now, STALE_SYNC)
    if claim is None:
        return None
    client = runtime.client_for_app(min(apps, key=lambda a: (APP_PREFERENCE.get(a.kind, 9), a.id)).id)
    stamp = int(local_midnight(day, CHINA).timestamp())
    try:
        behavior = _behavior(client, corp_id, members, stamp)
        groups = _groups(client, corp_id, members, day, stamp)
    except WeComError as exc:
        with runtime.WriteSession.begin() as s:
            s.execute(update(StatsSync).where(StatsSync.id == claim).values(error=str(exc)[:255]))
        raise
    with runtime.WriteSession.begin() as s:
        for model in (BehaviorDay, GroupChatDay):
            s.execute(delete(model).where(model.corp_id == corp_id, model.day == day))
        s.add_all([*behavior, *groups])
        s.execute(update(StatsSync).where(StatsSync.id == claim).values(
            finished_at=utcnow(), members=len(behavior), owners=len(groups), error=""))
    log.info("stats sync of %s for %s: %d members, %d group owners", corp_id, day, len(behavior), len(groups))
    return {"corp_id": corp_id, "day": day.isoformat(), "members": len(behavior), "owners": len(groups)}


def sync_all(now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every corp with an app; those too early, or another worker has, are left out. A corp whose WeCom call
    fails is logged and left for a later tick (its claim goes stale), the others still synced."""
    runtime = current()
    with runtime.Session() as s:
        corps = list(s.scalars(select(Corp.corp_id).join(App).distinct()))
    done = []
    for corp_id in corps:
        try:
            found = sync_corp(corp_id, now, runtime)
        except WeComError as exc:
            log.warning("stats sync of %s failed: %s", corp_id, exc)
            continue
        if found is not None:
            done.append(found)
    return done


@job("stats_sync", queue="maintenance")
def stats_sync_job() -> int:
    """The periodic form, hourly from `rq cron jobs.cron`: how many corps it synced."""
    return len(sync_all())
