"""Hand-overs sent to WeCom and followed until final (客户继承, handlers/transfers.py holds the DB side).

`advance` does what is due for one hand-over: customers still to send go out in calls of at most 100
(externalcontact/transfer_customer with the message, or resigned/transfer_customer), each customer's errcode
recorded; groups go out in calls of at most 100 (groupchat/onjob_transfer, or groupchat/transfer for a
resigned owner). WeCom moves at most 300 of one owner's groups a day: a chat it refuses for the cap stops
that owner's groups for the day, and they wait, `pending`, until the corp's next local midnight, when
`transfers_tick` sends them again. Customers WeCom accepted wait (status 2) up to 24 h for the customer to
refuse; `transfers_tick` polls transfer_result / resigned/transfer_result for them with a growing interval
(POLL_BACKOFF) until the status is final. The first send runs as the outbox effect `transfer_send` right
after the hand-over is made; the rest from `transfers_tick` (cron, every TICK_EVERY)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from handlers.transfers import (ERRCODE_REASONS, MAX_PER_CALL, WECOM_STATUS, groups_moved, settle_item)
from jobs.outbound import EffectContext, effect
from jobs.queue import job
from jobs.runtime import Runtime, current
from models import Corp
from models.db import utcnow
from models.transfer import ItemStatus, Transfer, TransferItem, TransferKind
from rules.calendar import local_midnight
from wecom.client import CredentialsBroken, WeComClient, WeComError

log = logging.getLogger(__name__)

TICK_EVERY = dt.timedelta(minutes=5)
POLL_BACKOFF = (dt.timedelta(minutes=10), dt.timedelta(minutes=30), dt.timedelta(hours=1), dt.timedelta(hours=3),
                dt.timedelta(hours=6))
"""Waits between transfer_result polls of a waiting customer; the last repeats until the status is final
(WeCom hands the customer over by itself 24 h after the call unless they refuse)."""
GROUP_CAP_ERRCODE = 45009
CAP_REASON = "群主今日转移已达300个上限, 次日继续 (WeCom's 300 groups a day per owner: resumes tomorrow)"
PATHS = {
    TransferKind.serving: ("externalcontact/transfer_customer", "externalcontact/transfer_result",
                           "externalcontact/groupchat/onjob_transfer"),
    TransferKind.resigned: ("externalcontact/resigned/transfer_customer", "externalcontact/resigned/transfer_result",
                            "externalcontact/groupchat/transfer"),
}


def _backoff(polls: int) -> dt.timedelta:
    return POLL_BACKOFF[min(polls, len(POLL_BACKOFF) - 1)]


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i:i + MAX_PER_CALL] for i in range(0, len(items), MAX_PER_CALL)]


def _due(s: Session, transfer_id: int, now: dt.datetime) -> dict[str, list[str]]:
    """What to do now: customers and groups to send, customers to poll."""
    rows = s.execute(select(TransferItem.external_userid, TransferItem.chat_id, TransferItem.status).where(
        TransferItem.transfer_id == transfer_id,
        TransferItem.status.in_((ItemStatus.pending.value, ItemStatus.waiting.value)),
        or_(TransferItem.next_poll_at.is_(None), TransferItem.next_poll_at <= now))
        .order_by(TransferItem.id)).all()
    due: dict[str, list[str]] = {"send": [], "groups": [], "poll": []}
    for ext, chat, status in rows:
        if chat:
            due["groups"].append(chat)
        elif status == ItemStatus.pending.value:
            due["send"].append(ext)
        else:
            due["poll"].append(ext)
    return due


def _items(s: Session, transfer_id: int, column: Any, keys: list[str]) -> dict[str, TransferItem]:
    return {getattr(i, column.key): i for i in s.scalars(select(TransferItem).where(
        TransferItem.transfer_id == transfer_id, column.in_(keys)).with_for_update())}


def advance(runtime: Runtime, client: WeComClient, transfer_id: int, now: dt.datetime) -> dict[str, int]:
    """Send and poll what is due for one hand-over; each WeCom answer is written before the next call."""
    with runtime.Session() as s:
        transfer = s.get(Transfer, transfer_id)
        if transfer is None:
            return {}
        s.expunge(transfer)
        due = _due(s, transfer_id, now)
        zone = ZoneInfo(s.scalar(select(Corp.timezone).where(Corp.corp_id == transfer.corp_id)) or "Asia/Shanghai")
    kind = TransferKind(transfer.kind)
    send_path, result_path, group_path = PATHS[kind]
    counts = {"sent": 0, "polled": 0, "groups": 0}
    for chunk in _chunks(due["send"]):
        body: dict[str, Any] = {"handover_userid": transfer.handover_userid,
                                "takeover_userid": transfer.takeover_userid, "external_userid": chunk}
        if kind == TransferKind.serving and transfer.message:
            body["transfer_success_msg"] = transfer.message
        answers = _call(client, send_path, body, chunk, "external_userid")
        with runtime.WriteSession.begin() as s:
            for ext, item in _items(s, transfer_id, TransferItem.external_userid, chunk).items():
                errcode = answers.get(ext, 0)
                if errcode:
                    settle_item(s, transfer, item, ItemStatus.failed, now, errcode)
                else:
                    item.status, item.next_poll_at = ItemStatus.waiting.value, now + _backoff(0)
        counts["sent"] += len(chunk)
    if due["groups"]:
        counts["groups"] = _send_groups(runtime, client, transfer, group_path, due["groups"], now, zone)
    if due["poll"]:
        counts["polled"] = _poll(runtime, client, transfer, result_path, due["poll"], now)
    return counts


def _call(client: WeComClient, path: str, body: dict[str, Any], chunk: list[str], key: str) -> dict[str, int]:
    """id → errcode for one transfer call. A call WeCom refuses as a whole (not retryable) gives every id
    its errcode; a retryable one (or the app's broken secret) raises, and the job's retry sends the chunk
    again."""
    try:
        answer = client.post(path, data=body)
    except WeComError as exc:
        if exc.retryable or exc.errcode is None or isinstance(exc, CredentialsBroken):
            raise
        return dict.fromkeys(chunk, exc.errcode)
    if key == "chat_id":
        return {row["chat_id"]: int(row.get("errcode") or 0) for row in answer.get("failed_chat_list") or []}
    return {row["external_userid"]: int(row.get("errcode") or 0) for row in answer.get("customer") or []}


def _send_groups(runtime: Runtime, client: WeComClient, transfer: Transfer, path: str, chats: list[str],
                 now: dt.datetime, zone: ZoneInfo) -> int:
    """Groups in calls of ≤100; the first chat refused for the daily cap holds this one's and every later
    chat until the corp's next local midnight."""
    tomorrow = local_midnight(now.astimezone(zone).date() + dt.timedelta(days=1), zone)
    moved = 0
    for n, chunk in enumerate(_chunks(chats)):
        failed = _call(client, path, {"chat_id_list": chunk, "new_owner": transfer.takeover_userid,
                                      "old_owner": transfer.handover_userid}, chunk, "chat_id")
        capped = [c for c, code in failed.items() if code == GROUP_CAP_ERRCODE]
        with runtime.WriteSession.begin() as s:
            items = _items(s, transfer.id, TransferItem.chat_id, chunk)
            done = [c for c in chunk if c not in failed]
            for chat, item in items.items():
                if chat in done:
                    item.status, item.takeover_at = ItemStatus.done.value, now
                elif chat in capped:
                    item.next_poll_at, item.reason = tomorrow, CAP_REASON
                else:
                    item.status, item.errcode = ItemStatus.failed.value, failed[chat]
                    item.reason = ERRCODE_REASONS.get(failed[chat], f"WeCom errcode {failed[chat]}")
            groups_moved(s, transfer, done)
            if capped:  # the rest waits for tomorrow without a call
                rest = [c for later in _chunks(chats)[n + 1:] for c in later]
                for item in _items(s, transfer.id, TransferItem.chat_id, rest).values():
                    item.next_poll_at, item.reason = tomorrow, CAP_REASON
        moved += len(done)
        if capped:
            log.info("transfer %s: group daily cap reached, %d chats wait for tomorrow", transfer.id,
                     len(chats) - moved)
            break
    return moved


def _poll(runtime: Runtime, client: WeComClient, transfer: Transfer, path: str, waiting: list[str],
          now: dt.datetime) -> int:
    """transfer_result, every page (cursor), for the customers due; a final status settles the item."""
    statuses: dict[str, tuple[int, int | None]] = {}
    cursor = ""
    while True:
        answer = client.post(path, data={"handover_userid": transfer.handover_userid,
                                         "takeover_userid": transfer.takeover_userid, "cursor": cursor})
        for row in answer.get("customer") or []:
            statuses[row["external_userid"]] = (int(row["status"]), row.get("takeover_time"))
        cursor = answer.get("next_cursor") or ""
        if not cursor:
            break
    with runtime.WriteSession.begin() as s:
        for ext, item in _items(s, transfer.id, TransferItem.external_userid, waiting).items():
            code, at = statuses.get(ext, (2, None))
            status = WECOM_STATUS.get(code, ItemStatus.waiting)
            item.polls += 1
            if at:
                item.takeover_at = dt.datetime.fromtimestamp(int(at), dt.UTC)
            if status == ItemStatus.waiting:
                item.next_poll_at = now + _backoff(item.polls)
            else:
                settle_item(s, transfer, item, status, now, errcode=5 if code == 5 else None)
    return len(waiting)


@effect("transfer_send")
def transfer_send(ctx: EffectContext, transfer_id: int) -> dict[str, Any] | None:
    """A new hand-over's first calls."""
    counts = advance(ctx.runtime, ctx.client, transfer_id, utcnow())
    return ctx.finish(lambda s: counts)


@job("transfers_tick", queue="maintenance")
def transfers_tick(now: dt.datetime | None = None) -> int:
    """Every hand-over with something due (a poll, or groups held by yesterday's cap); returns how many."""
    runtime = current()
    now = now or utcnow()
    with runtime.Session() as s:
        due = s.execute(select(Transfer.id, Transfer.app_pk).join(TransferItem).where(
            TransferItem.status.in_((ItemStatus.pending.value, ItemStatus.waiting.value)),
            TransferItem.next_poll_at <= now).distinct().order_by(Transfer.id)).all()
    for transfer_id, app_pk in due:
        try:
            advance(runtime, runtime.client_for_app(app_pk), transfer_id, now)
        except WeComError as exc:  # the next tick tries again
            log.warning("transfer %s: %s", transfer_id, exc)
    return len(due)
