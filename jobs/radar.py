"""What a radar open sets off (雷达, 004 §6.3, §9.6): the open row, the customer's timeline entry, and the
follower's app message, at once or in a digest.

The corp's RadarSettings.notify says how followers hear of opens: `instant` (the default) queues one app
message per open as it is recorded; `batched` leaves opens unnotified and the cron job (every minute, see
jobs/cron.py) sends each follower one digest every `batch_minutes`, only while the corp's working-hours
calendar (rules/working_hours.py) says it is working time: opens after hours wait for the morning; `off`
tells nobody. Messages are the `notify_admins` effect (jobs/notify.py): message/send within each member's
budget, through the outbox."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handlers.moderation import calendar_for
from handlers.registry import HandlerContext
from jobs.queue import enqueue_outbox, job
from jobs.runtime import Runtime, current
from models import Customer, CustomerEvent, Material
from models.corp import messaging_app
from models.db import utcnow
from models.radar import RadarLink, RadarOpen, RadarSettings

DIGEST_LINES = 20  # a digest names at most this many (customer, material) pairs; the rest are counted
NOTIFY_MODES = ("instant", "batched", "off")


def material_title(m: Material) -> str:
    return str(m.payload.get("title") or m.title or m.payload.get("url", ""))


def _notify(ctx: HandlerContext, userid: str, text: str, key: str) -> None:
    """Queue an app message to one follower (nothing when the corp has no app that can send)."""
    app = messaging_app(ctx.session, ctx.corp_id)
    if app is None:
        return
    app_pk, agent_id = app
    ctx.outbox("notify_admins", {"app_pk": app_pk, "agent_id": agent_id, "userids": [userid], "text": text},
               key=key)


def record_open(ctx: HandlerContext, link: RadarLink, reader: str, agent: str) -> RadarOpen:
    """The open, its timeline entry on the customer, and (instant mode) the follower's message."""
    s = ctx.session
    material, customer = s.get_one(Material, link.material_id), s.get_one(Customer, link.customer_id)  # FKs
    title = material_title(material)
    row = RadarOpen(link_id=link.id, corp_id=link.corp_id, reader=reader, agent=agent)
    s.add(row)
    s.flush()
    s.add(CustomerEvent(customer_id=link.customer_id, kind="radar_open", userid=link.userid, source=f"radar:{row.id}",
                        detail={"material_id": link.material_id, "title": title, "agent": agent}))
    settings = s.scalar(select(RadarSettings).where(RadarSettings.corp_id == link.corp_id))
    if (settings.notify if settings else "instant") == "instant":
        who = customer.name or customer.external_userid
        _notify(ctx, link.userid, f"雷达提醒：客户「{who}」刚刚打开了你发送的「{title}」。", f"radar_open:{row.id}")
        row.notified_at = utcnow()
    return row


def _digest_text(minutes: int, counts: dict[tuple[str, str], int]) -> str:
    lines = [f"雷达提醒（近 {minutes} 分钟）："]
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines += [f"客户「{who}」打开「{title}」{n} 次" for (who, title), n in ordered[:DIGEST_LINES]]
    if len(ordered) > DIGEST_LINES:
        lines.append(f"……另有 {len(ordered) - DIGEST_LINES} 条")
    return "\n".join(lines)


def _digest_corp(s: Session, settings: RadarSettings, now: dt.datetime) -> list[tuple[int, str]]:
    """One corp's digests, if one is due and it is working time: one message per follower."""
    if settings.last_digest_at is not None and now - settings.last_digest_at < dt.timedelta(
            minutes=settings.batch_minutes):
        return []
    calendar, zone = calendar_for(s, settings.corp_id)
    if not calendar.contains(now, zone):
        return []
    rows = s.execute(select(RadarOpen.id, RadarLink.userid, Customer.name, Customer.external_userid, Material)
                     .join(RadarLink, RadarLink.id == RadarOpen.link_id)
                     .join(Customer, Customer.id == RadarLink.customer_id)
                     .join(Material, Material.id == RadarLink.material_id)
                     .where(RadarOpen.corp_id == settings.corp_id, RadarOpen.notified_at.is_(None),
                            RadarOpen.at <= now)).all()
    settings.last_digest_at = now
    if not rows:
        return []
    per_member: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for _, userid, name, external_userid, material in rows:
        per_member[userid][(name or external_userid, material_title(material))] += 1
    ctx = HandlerContext(session=s, corp_id=settings.corp_id, app_pk=0)
    stamp = now.strftime("%Y%m%dT%H%M")
    for userid, counts in sorted(per_member.items()):
        _notify(ctx, userid, _digest_text(settings.batch_minutes, counts), f"radar_digest:{userid}:{stamp}")
    s.execute(update(RadarOpen).where(RadarOpen.id.in_([r[0] for r in rows])).values(notified_at=now)
              .execution_options(synchronize_session=False))
    return [(r.id, r.queue) for r in ctx.pending_outbox]


def digest(runtime: Runtime, now: dt.datetime) -> int:
    """Every batched corp's due digests at `now`; how many messages were queued."""
    with runtime.WriteSession.begin() as s:
        queued = []
        for settings in s.scalars(select(RadarSettings).where(RadarSettings.notify == "batched")):
            queued += _digest_corp(s, settings, now)
    enqueue_outbox(queued)
    return len(queued)


@job("radar_digest", queue="maintenance")
def radar_digest_job() -> int:
    """Run by `rq cron jobs.cron` every minute: the batched corps' digests that are due."""
    return digest(current(), utcnow())
