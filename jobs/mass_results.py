"""What became of a mass message in WeCom (004 §5.1.3 群发结果): results collected, members reminded, tasks
cancelled.

`collect` follows WeCom's three result APIs (doc 93338), each cursor-paged: get_groupmsg_list_v2 lists the
corp's messages of the time window (our msgids among them), get_groupmsg_task gives each sender's status (0
unsent, 2 sent), get_groupmsg_send_result each recipient's (0 unsent, 1 sent, 2 no longer a friend, 3 over
WeCom's receive limit). The cron tick collects messages sent in the last COLLECT_FOR, at most every
COLLECT_EVERY; `POST /mass-messages/<id>/results` collects one now, as a job with progress.

`remind` calls remind_groupmsg_send for each task whose sender has not sent (WeCom: three reminders per
message in 24 h; a refusal is reported per member); `cancel_tasks` calls cancel_groupmsg_send for them."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import or_, select, update

from jobs.progress import fail_run, tracked
from jobs.queue import job, on_dead
from jobs.runtime import Runtime, current
from models.db import utcnow
from models.mass_message import MassMessage, MassMessageSend, MassRecipient, MassStatus, RecipientStatus
from wecom.client import CredentialsBroken, WeComClient, WeComError

log = logging.getLogger(__name__)

COLLECT_FOR = dt.timedelta(days=3)
COLLECT_EVERY = dt.timedelta(minutes=30)
PAGE = 1000  # get_groupmsg_task / get_groupmsg_send_result: limit ≤1000
LIST_PAGE = 100  # get_groupmsg_list_v2: limit ≤100
WINDOW = dt.timedelta(days=30)  # get_groupmsg_list_v2: start and end at most a month apart
RESULT_STATUS = {0: RecipientStatus.pending, 1: RecipientStatus.sent, 2: RecipientStatus.not_friend,
                 3: RecipientStatus.over_limit}
UPDATE_CHUNK = 1000


def _pages(client: WeComClient, path: str, body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = ""
    while True:
        answer = client.post(path, data={**body, "cursor": cursor})
        rows += answer.get(key) or []
        cursor = answer.get("next_cursor") or ""
        if not cursor:
            return rows


def _sends(runtime: Runtime, message_id: int) -> tuple[MassMessage, list[MassMessageSend]]:
    with runtime.Session() as s:
        msg = s.get(MassMessage, message_id)
        if msg is None:
            raise LookupError(f"no mass message {message_id}")
        sends = list(s.scalars(select(MassMessageSend).where(MassMessageSend.message_id == message_id,
                                                             MassMessageSend.msgid.is_not(None))
                               .order_by(MassMessageSend.id)))
        s.expunge_all()
    return msg, sends


def _listed(client: WeComClient, msg: MassMessage, now: dt.datetime) -> set[str]:
    start = (msg.claimed_at or msg.created_at) - dt.timedelta(minutes=1)
    end = min(now, start + WINDOW)
    rows = _pages(client, "externalcontact/get_groupmsg_list_v2",
                  {"chat_type": msg.chat_type, "start_time": int(start.timestamp()), "end_time": int(end.timestamp()),
                   "filter_type": 0, "limit": LIST_PAGE}, "group_msg_list")
    return {row["msgid"] for row in rows}


def _store_results(runtime: Runtime, send: MassMessageSend, task: dict[str, Any], results: list[dict[str, Any]],
                   key: str) -> int:
    """The sender's status and each recipient's; returns how many were delivered."""
    by_status: dict[RecipientStatus, list[str]] = {}
    for row in results:
        status = RESULT_STATUS.get(int(row.get("status") or 0), RecipientStatus.pending)
        by_status.setdefault(status, []).append(row[key])
    with runtime.WriteSession.begin() as s:
        values: dict[str, Any] = {}
        if send.status != "cancelled":
            values["status"] = "sent" if task.get("status") == 2 else "unsent"
        if task.get("send_time"):
            values["sent_at"] = dt.datetime.fromtimestamp(int(task["send_time"]), dt.UTC)
        if values:
            s.execute(update(MassMessageSend).where(MassMessageSend.id == send.id).values(**values))
        for status, targets in by_status.items():
            for start in range(0, len(targets), UPDATE_CHUNK):
                s.execute(update(MassRecipient).where(
                    MassRecipient.send_id == send.id, MassRecipient.status != RecipientStatus.failed.value,
                    MassRecipient.target.in_(targets[start:start + UPDATE_CHUNK])).values(status=status.value))
    return len(by_status.get(RecipientStatus.sent, []))


def collect(runtime: Runtime, message_id: int, now: dt.datetime | None = None, progress: Any = None) -> dict[str, int]:
    """Every task's and recipient's status from WeCom (see the module docstring)."""
    now = now or utcnow()
    msg, sends = _sends(runtime, message_id)
    client = runtime.client_for_app(msg.app_pk)
    key = "chat_id" if msg.chat_type == "group" else "external_userid"
    listed = _listed(client, msg, now) if sends else set()
    if progress is not None:
        progress.total = len(sends)
    delivered = 0
    for send in sends:
        if send.msgid in listed:
            for task in _pages(client, "externalcontact/get_groupmsg_task", {"msgid": send.msgid, "limit": PAGE},
                               "task_list"):
                results = _pages(client, "externalcontact/get_groupmsg_send_result",
                                 {"msgid": send.msgid, "userid": task["userid"], "limit": PAGE}, "send_list")
                delivered += _store_results(runtime, send, task, results, key)
        if progress is not None:
            progress.advance()
    with runtime.WriteSession.begin() as s:
        s.execute(update(MassMessage).where(MassMessage.id == message_id).values(results_at=now))
    return {"tasks": len(sends), "delivered": delivered}


def collect_due(runtime: Runtime, now: dt.datetime) -> int:
    """Results of messages sent in the last COLLECT_FOR not collected in COLLECT_EVERY; returns how many."""
    with runtime.Session() as s:
        due = list(s.scalars(select(MassMessage.id).where(
            MassMessage.status == MassStatus.sent.value, MassMessage.sent_at >= now - COLLECT_FOR,
            or_(MassMessage.results_at.is_(None), MassMessage.results_at < now - COLLECT_EVERY))))
    for message_id in due:
        try:
            collect(runtime, message_id, now)
        except WeComError as exc:
            log.warning("mass message %s results: %s", message_id, exc)
    return len(due)


def _open_tasks(runtime: Runtime, message_id: int) -> tuple[WeComClient, list[MassMessageSend]]:
    msg, sends = _sends(runtime, message_id)
    return runtime.client_for_app(msg.app_pk), [send for send in sends if send.status == "unsent"]


def _refused(exc: WeComError) -> int:
    if exc.retryable or exc.errcode is None or isinstance(exc, CredentialsBroken):
        raise exc
    return exc.errcode


def remind(runtime: Runtime, message_id: int) -> tuple[list[str], dict[str, int]]:
    """remind_groupmsg_send for every task not sent yet: (members reminded, member → errcode refused)."""
    client, tasks = _open_tasks(runtime, message_id)
    reminded: list[str] = []
    refused: dict[str, int] = {}
    for send in tasks:
        try:
            client.post("externalcontact/remind_groupmsg_send", data={"msgid": send.msgid})
        except WeComError as exc:
            refused[send.sender] = _refused(exc)
            continue
        reminded.append(send.sender)
        with runtime.WriteSession.begin() as s:
            s.execute(update(MassMessageSend).where(MassMessageSend.id == send.id).values(
                reminded_at=utcnow(), remind_count=MassMessageSend.remind_count + 1))
    return sorted(set(reminded)), refused


def cancel_tasks(runtime: Runtime, message_id: int) -> int:
    """cancel_groupmsg_send for every task not sent yet; returns how many WeCom stopped."""
    client, tasks = _open_tasks(runtime, message_id)
    for send in tasks:
        try:
            client.post("externalcontact/cancel_groupmsg_send", data={"msgid": send.msgid})
        except WeComError as exc:
            log.warning("mass message %s: cancel %s refused (%s)", message_id, send.msgid, _refused(exc))
            continue
        with runtime.WriteSession.begin() as s:
            s.execute(update(MassMessageSend).where(MassMessageSend.id == send.id).values(status="cancelled"))
    return len(tasks)


@job("mass_results", queue="maintenance")
def mass_results(job_id: int, message_id: int) -> str:
    with tracked(job_id) as progress:
        progress.result = collect(current(), message_id, progress=progress)
    return "done"


@on_dead("mass_results")
def _failed(args: list[Any], error: str) -> None:
    fail_run(args[0], error)
