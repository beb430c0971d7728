"""Mass messages sent through externalcontact/add_msg_template (群发, 004 §5.1; the DB side is
models/mass_message.py, who gets it web/mass_audience.py).

`send_templates` is the one way anything here sends a message to customers or groups: one call per sender and
chunk of at most 10,000 customers (2,000 groups), WeCom's per-call limit (doc 92135); SOP steps reuse it.

`deliver` sends one message exactly once, whichever of several workers runs it: it claims the row with a
conditional UPDATE (scheduled and due → sending); a claim older than STALE_CLAIM (a worker that died) may be
taken again, and only the calls not yet made (sends still `planned`) go out then. The plan (recipients and
one `MassMessageSend` per call) is written before the first call, and each call's answer (msgid, fail_list)
before the next. `mass_messages_tick` (cron, every minute) delivers due scheduled messages and collects the
results of recent ones (jobs/mass_results.py)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, insert, or_, select, update

from jobs.export import replayed
from jobs.queue import job
from jobs.runtime import Runtime, current
from models.db import utcnow
from models.mass_message import MassMessage, MassMessageSend, MassRecipient, MassStatus, RecipientStatus
from wecom.client import CredentialsBroken, WeComClient, WeComError

log = logging.getLogger(__name__)

PATH = "externalcontact/add_msg_template"
PER_CALL = {"single": 10_000, "group": 2_000}
"""add_msg_template: external_userid 最多可一次指定1万个客户, chat_id_list 最多2000个客户群 (doc 92135)."""
STALE_CLAIM = dt.timedelta(minutes=10)
UPDATE_CHUNK = 1000


@dataclass
class TemplateCall:
    """One add_msg_template call: its sender and targets, and WeCom's answer (msgid and fail_list, or the
    errcode it refused the call with)."""

    sender: str
    targets: list[str]
    msgid: str | None
    fail_list: list[str]
    errcode: int | None


def content_body(text: str, attachments: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """text and attachments as add_msg_template takes them."""
    body: dict[str, Any] = {}
    if text:
        body["text"] = {"content": text}
    if attachments:
        body["attachments"] = list(attachments)
    return body


def send_templates(client: WeComClient, targets_by_sender: Mapping[str, Sequence[str]], content: dict[str, Any],
                   chat_type: str = "single") -> Iterator[TemplateCall]:
    """Send `content` (`content_body`) to each sender's customers (external_userids) or groups (chat_ids,
    chat_type "group"), in calls within WeCom's per-call limit, yielding each call's outcome as it comes.
    A call WeCom refuses for good is yielded with its errcode; a retryable error (or the app's broken
    secret) raises, and the caller's retry sends what was not yielded yet."""
    key, most = ("chat_id_list", PER_CALL["group"]) if chat_type == "group" else ("external_userid", PER_CALL["single"])
    for sender, targets in targets_by_sender.items():
        for start in range(0, len(targets), most):
            chunk = list(targets[start:start + most])
            try:
                answer = client.post(PATH, data={"chat_type": chat_type, "sender": sender, key: chunk, **content})
            except WeComError as exc:
                if exc.retryable or exc.errcode is None or isinstance(exc, CredentialsBroken):
                    raise
                yield TemplateCall(sender, chunk, None, [], exc.errcode)
                continue
            yield TemplateCall(sender, chunk, answer.get("msgid"), list(answer.get("fail_list") or []), None)


def _claim(runtime: Runtime, message_id: int, now: dt.datetime) -> bool:
    with runtime.WriteSession.begin() as s:
        return bool(s.execute(update(MassMessage).where(MassMessage.id == message_id, or_(
            and_(MassMessage.status == MassStatus.scheduled.value, MassMessage.send_at <= now),
            and_(MassMessage.status == MassStatus.sending.value, MassMessage.claimed_at < now - STALE_CLAIM)))
            .values(status=MassStatus.sending.value, claimed_at=now)).rowcount)


def _write_plan(runtime: Runtime, msg: MassMessage, now: dt.datetime) -> None:
    """Recipients and one planned send per call, read in the creator's scope (a request replayed)."""
    from web.mass_audience import plan
    from web.schemas.mass_messages import Audience

    with replayed(runtime, {"query": {}, "principal": msg.principal}), runtime.Session() as s:
        planned = plan(s, msg.corp_id, msg.chat_type, Audience.model_validate(msg.audience), now)
    most = PER_CALL[msg.chat_type]
    rows: list[dict[str, Any]] = []
    with runtime.WriteSession.begin() as s:
        for sender, targets in sorted(planned.by_sender.items()):
            for start in range(0, len(targets), most):
                chunk = targets[start:start + most]
                send = MassMessageSend(message_id=msg.id, sender=sender, size=len(chunk), status="planned")
                s.add(send)
                s.flush()
                rows += [{"message_id": msg.id, "corp_id": msg.corp_id, "customer_id": cid, "target": target,
                          "sender": sender, "send_id": send.id, "status": RecipientStatus.pending.value, "at": now}
                         for cid, target in chunk]
        for status, left in ((RecipientStatus.capped, planned.capped), (RecipientStatus.no_sender, planned.no_sender)):
            rows += [{"message_id": msg.id, "corp_id": msg.corp_id, "customer_id": cid, "target": target, "sender": "",
                      "send_id": None, "status": status.value, "at": now} for cid, target in left]
        table = cast(Table, MassRecipient.__table__)  # Core's executemany: the ORM's bulk path costs 3x as much per row
        for start in range(0, len(rows), 5000):
            s.connection().execute(insert(table), rows[start:start + 5000])
        s.execute(update(MassMessage).where(MassMessage.id == msg.id).values(
            target_count=planned.target, capped_count=len(planned.capped)))


def _record(runtime: Runtime, send_id: int, call: TemplateCall) -> None:
    with runtime.WriteSession.begin() as s:
        s.execute(update(MassMessageSend).where(MassMessageSend.id == send_id).values(
            msgid=call.msgid, errcode=call.errcode, status="failed" if call.errcode else "unsent"))
        of_send = MassRecipient.send_id == send_id
        if call.errcode:
            s.execute(update(MassRecipient).where(of_send).values(status=RecipientStatus.failed.value))
        for start in range(0, len(call.fail_list), UPDATE_CHUNK):
            s.execute(update(MassRecipient).where(of_send, MassRecipient.target.in_(
                call.fail_list[start:start + UPDATE_CHUNK])).values(status=RecipientStatus.failed.value))


def deliver(runtime: Runtime, message_id: int, now: dt.datetime | None = None) -> str:
    """Send message `message_id` if it is due and this worker claims it (see the module docstring)."""
    now = now or utcnow()
    if not _claim(runtime, message_id, now):
        return "skipped"
    with runtime.Session() as s:
        msg = s.get(MassMessage, message_id)
        assert msg is not None
        s.expunge(msg)
        planned = s.scalar(select(MassMessageSend.id).where(MassMessageSend.message_id == message_id).limit(1))
    if planned is None:
        _write_plan(runtime, msg, now)
    client = runtime.client_for_app(msg.app_pk)
    content = content_body(msg.text, msg.attachments)
    with runtime.Session() as s:
        sends = s.execute(select(MassMessageSend.id, MassMessageSend.sender).where(
            MassMessageSend.message_id == message_id, MassMessageSend.status == "planned")
            .order_by(MassMessageSend.id)).all()
    for send_id, sender in sends:
        with runtime.Session() as s:
            targets = list(s.scalars(select(MassRecipient.target).where(MassRecipient.send_id == send_id)
                                     .order_by(MassRecipient.id)))
        for call in send_templates(client, {sender: targets}, content, msg.chat_type):
            _record(runtime, send_id, call)
    with runtime.WriteSession.begin() as s:
        s.execute(update(MassMessage).where(MassMessage.id == message_id).values(
            status=MassStatus.sent.value, sent_at=utcnow()))
    return "sent"


@job("mass_send", queue="maintenance")
def mass_send(message_id: int) -> str:
    return deliver(current(), message_id)


@job("mass_messages_tick", queue="maintenance")
def mass_messages_tick(now: dt.datetime | None = None) -> dict[str, int]:
    """Due scheduled messages (and stale claims) delivered; recent messages' results collected."""
    from jobs.mass_results import collect_due

    runtime = current()
    now = now or utcnow()
    with runtime.Session() as s:
        due = list(s.scalars(select(MassMessage.id).where(or_(
            and_(MassMessage.status == MassStatus.scheduled.value, MassMessage.send_at <= now),
            and_(MassMessage.status == MassStatus.sending.value, MassMessage.claimed_at < now - STALE_CLAIM)))
            .order_by(MassMessage.id)))
    sent = 0
    for message_id in due:
        try:
            sent += deliver(runtime, message_id, now) == "sent"
        except WeComError as exc:  # a stale claim: the tick after STALE_CLAIM takes it again
            log.warning("mass message %s: %s", message_id, exc)
    return {"sent": sent, "collected": collect_due(runtime, now)}
